"""Commands on a complaint: filed by anyone who hears one, acknowledged then resolved by the
oversight body, never by the person it is about."""

from __future__ import annotations

from contracts.intake import ComplaintFiled
from services.intake.app.aggregates import COMPLAINT
from services.intake.domain import ComplaintCommand, ComplaintState, FileComplaint, decide_complaint
from shared.commands import Expect, Outcome
from shared.envelope import Actor
from shared.process import Ports


async def file(
    ports: Ports, event: ComplaintFiled, *, actor: Actor, key: str | None
) -> Outcome[ComplaintState]:
    assert ports.commands is not None
    command = FileComplaint(event)
    return await ports.commands.execute(
        COMPLAINT,
        event.complaint_id,
        lambda state: decide_complaint(state, command),
        expect=Expect.new(),
        actor=actor,
        key=key,
    )


async def follow_up(
    ports: Ports,
    complaint_id: str,
    command: ComplaintCommand,
    *,
    expect: Expect,
    actor: Actor,
    key: str | None,
) -> Outcome[ComplaintState]:
    """Acknowledge or resolve; the person complained about is told it does not exist."""
    assert ports.commands is not None
    return await ports.commands.execute(
        COMPLAINT,
        complaint_id,
        lambda state: decide_complaint(state, command),
        expect=expect,
        actor=actor,
        key=key,
        visible=lambda state: state.about_user != actor.user,
    )
