"""Commands on a child record: a person confirms or rejects a suggested duplicate, or
corrects the record (the corrected child may match a known one: suggested again)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from services.intake.app.aggregates import CHILD
from services.intake.app.recording import correction_matches
from services.intake.domain import ChildState, CorrectChild, ResolveDuplicate, decide_child
from shared.commands import Expect, Outcome
from shared.envelope import Actor
from shared.process import Ports

Visible = Callable[[ChildState], bool]


async def resolve_duplicate(
    ports: Ports,
    child_id: str,
    candidate_id: str,
    *,
    confirm: bool,
    note: str | None,
    expect: Expect,
    actor: Actor,
    key: str | None,
    visible: Visible,
) -> Outcome[ChildState]:
    assert ports.commands is not None
    command = ResolveDuplicate(candidate_id, confirm, note)
    return await ports.commands.execute(
        CHILD,
        child_id,
        lambda state: decide_child(state, command),
        expect=expect,
        actor=actor,
        key=key,
        visible=visible,
    )


async def correct(
    ports: Ports,
    child_id: str,
    *,
    changes: dict[str, Any],
    reason: str,
    expect: Expect,
    actor: Actor,
    key: str | None,
    visible: Visible,
) -> Outcome[ChildState]:
    assert ports.commands is not None
    loaded = await ports.commands.load(CHILD, child_id)
    found = await correction_matches(ports, loaded.state, changes) if loaded.exists else []
    command = CorrectChild(changes, reason, found)
    return await ports.commands.execute(
        CHILD,
        child_id,
        lambda state: decide_child(state, command),
        expect=expect,
        actor=actor,
        key=key,
        visible=visible,
    )
