"""Commands on a report: register, screen, amend. Each goes through the one application
layer (``shared.commands``): decided on the report folded from the log, appended after the
version the caller saw."""

from __future__ import annotations

from collections.abc import Callable

from contracts.intake import ReportRegistered
from services.intake.app.aggregates import REPORT
from services.intake.domain import (
    AmendReport,
    RegisterReport,
    ReportState,
    ScreenReport,
    decide_report,
)
from services.intake.read.queries import canonical_ids, current_details
from shared.commands import Expect, Outcome
from shared.envelope import Actor
from shared.process import Ports

Visible = Callable[[ReportState], bool]


async def register(
    ports: Ports,
    event: ReportRegistered,
    *,
    actor: Actor,
    key: str | None,
    read_your_writes: bool = True,
) -> Outcome[ReportState]:
    """``read_your_writes=False``: answer once stored; the caller settles later (the request
    that records the children waits once, for the last of its events)."""
    assert ports.commands is not None
    command = RegisterReport(event, ports.clock())
    return await ports.commands.execute(
        REPORT,
        event.report_id,
        lambda state: decide_report(state, command),
        expect=Expect.new(),
        actor=actor,
        key=key,
        read_your_writes=read_your_writes,
    )


async def screen(
    ports: Ports,
    report_id: str,
    *,
    decision: str,
    urgency: str,
    rationale: str,
    redirect_to: str | None,
    agency: str,
    unit: str | None,
    expect: Expect,
    actor: Actor,
    key: str | None,
    visible: Visible,
) -> Outcome[ReportState]:
    """A screening; a protection concern is accepted for casework with each child as its
    record now reads (corrections applied) and under its earliest confirmed duplicate."""
    assert ports.commands is not None and ports.engine is not None
    loaded = await ports.commands.load(REPORT, report_id)
    child_ids = [c.child_id for c in loaded.state.children]
    command = ScreenReport(
        decision=decision,
        urgency=urgency,
        rationale=rationale,
        redirect_to=redirect_to,
        agency=agency,
        unit=unit,
        now=ports.clock(),
        canonical_children=await canonical_ids(ports.engine, child_ids),
        current_children=await current_details(ports.engine, child_ids),
    )
    return await ports.commands.execute(
        REPORT,
        report_id,
        lambda state: decide_report(state, command),
        expect=expect,
        actor=actor,
        key=key,
        visible=visible,
    )


async def amend(
    ports: Ports,
    report_id: str,
    *,
    changes: dict[str, object],
    reason: str,
    expect: Expect,
    actor: Actor,
    key: str | None,
    visible: Visible,
) -> Outcome[ReportState]:
    assert ports.commands is not None
    command = AmendReport(changes=dict(changes), reason=reason)
    return await ports.commands.execute(
        REPORT,
        report_id,
        lambda state: decide_report(state, command),
        expect=expect,
        actor=actor,
        key=key,
        visible=visible,
    )
