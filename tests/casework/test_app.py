"""Casework's commands and its overdue-stage sweep, fast, on the in-memory event store."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from services.casework import domain as d
from services.casework.app import cases
from services.casework.app.processes import stage_overdue
from services.casework.config import load_rules
from shared.commands import Expect
from shared.domain import DomainError
from shared.envelope import Actor
from shared.eventstore import event_id
from tests.kitchen import Kitchen

pytestmark = pytest.mark.app

OPENER = Actor.system("casework.opener")
WORKER = Actor(user="w-1", agency="ocpm", role="case_worker")


def opening(case_id: str, received: datetime) -> d.OpenCase:
    return d.OpenCase(
        case_id=case_id,
        child_id=f"{case_id}-child",
        sex="female",
        age_band="10-14",
        report_id=f"{case_id}-report",
        agency="ocpm",
        unit=None,
        commune="bj-littoral-cotonou",
        concerns=("child_labour",),
        urgency="emergency",
        immediate_danger=True,
        received_at=received,
    )


async def test_a_case_is_opened_once_and_visible_only_to_its_agency() -> None:
    kitchen = Kitchen.of("casework")
    now = datetime.now(UTC)
    opened = await cases.run(
        kitchen, "k-1", opening("k-1", now), expect=Expect.new(), actor=OPENER, key="open:r:c"
    )
    again = await cases.run(
        kitchen, "k-1", opening("k-1", now), expect=Expect.new(), actor=OPENER, key="open:r:c"
    )
    assert again.duplicate and again.version == opened.version
    assert opened.state.agency == "ocpm" and opened.state.stage == "registration"
    with pytest.raises(DomainError) as hidden:
        await cases.run(
            kitchen,
            "k-1",
            d.ChangeStage(to="assessment", now=now),
            expect=Expect.seen(opened.version),
            actor=WORKER,
            visible=lambda state: state.agency == "police-parakou",
        )
    assert (hidden.value.status, hidden.value.code) == (404, "case_not_found")
    # Decided on the case folded from the log: no worker assigned yet, no next stage.
    with pytest.raises(DomainError) as refused:
        await cases.run(
            kitchen,
            "k-1",
            d.ChangeStage(to="initial_assessment", now=now),
            expect=Expect.seen(opened.version),
            actor=WORKER,
        )
    assert refused.value.code == "not_assigned"
    assert await kitchen.names("casework", "case", "k-1") == ["CaseOpened"]


async def test_two_instances_flag_an_overdue_stage_once_and_name_its_start() -> None:
    one = Kitchen.of("casework")
    two = one.twin()
    received = datetime.now(UTC) - timedelta(days=3)
    await cases.run(
        one, "k-2", opening("k-2", received), expect=Expect.new(), actor=OPENER, key=None
    )
    sweep = stage_overdue(load_rules)
    now = datetime.now(UTC)
    flagged = await asyncio.gather(sweep.flag(one, "k-2", now), sweep.flag(two, "k-2", now))
    assert sorted(flagged) == [False, True]
    names = await one.names("casework", "case", "k-2")
    assert names.count("StageOverdue") == 1
    aggregate = one.commands.aggregate(cases.CASE, "k-2")
    stored = await one.commands.store.load(aggregate)
    # The key names the position where the stage began: a stage re-entered later is a new key.
    [flag] = [r for r in stored if r.event.name == "StageOverdue"]
    assert flag.id == event_id(aggregate, f"overdue:k-2:{stored[0].seq}", 0)
