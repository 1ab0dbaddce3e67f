"""Intake's processes, run on every instance at once (``shared.process``).

* **Overdue screening**: a report nobody screened before its urgency deadline gets one
  ``ScreeningOverdue``; a report screened "more information needed" and not screened again by
  its re-screen deadline gets one ``RescreeningOverdue`` per such deadline.
* **Child recorder** (an inbox): every child a registered report mentions, and every child
  casework identified on a case opened directly, gets its ``ChildRecorded`` (see
  ``recording.py``).
* **Child corrector** (an inbox, ``case_corrections.py``): every correction a case worker
  reported from the case becomes the child record's ``ChildDetailsCorrected``, or its
  ``ChildCorrectionRefused`` with the reason when intake's rules refuse it.

Each firing is decided on the aggregate folded from the log and appended with a key derived
from the aggregate and what fired (the deadline; the child), so when two instances fire
together the log keeps one event: the second append is either recognised as the same event
(duplicate) or refused as a conflict, and does nothing."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, or_, select

from contracts.intake import ChildRecorded, ReportScreened, RescreeningOverdue, ScreeningOverdue
from services.intake.app.aggregates import CHILD, REPORT
from services.intake.app.recording import likely_matches, record_key
from services.intake.domain import (
    ChildState,
    MarkOverdue,
    RecordChild,
    ReportState,
    decide_child,
    decide_report,
)
from services.intake.read import children, pending_children, reports
from shared.commands import Expect, Loaded
from shared.envelope import Actor
from shared.events import DomainEvent
from shared.process import Inbox, Ports, Reaction, Sweep
from shared.recorded import RecordedEvent

log = logging.getLogger(__name__)
ACTOR = Actor.system("intake.screening-overdue")
RECORDER = Actor.system("intake.child-recorder")


# -- screening deadlines ---------------------------------------------------------------------


async def _due(ports: Ports, now: datetime, limit: int) -> Sequence[str]:
    """Reports the read model shows past a screening or re-screening deadline, unflagged."""
    assert ports.engine is not None
    unscreened = reports.c.screened_at.is_(None) & reports.c.overdue.is_(False)
    awaiting_more = (
        (reports.c.status == "more_information")
        & reports.c.rescreen_overdue.is_(False)
        & (reports.c.rescreen_by < now)
    )
    async with ports.engine.connect() as conn:
        rows = await conn.execute(
            select(reports.c.report_id)
            .where(or_(unscreened & (reports.c.deadline < now), awaiting_more))
            .order_by(reports.c.deadline)
            .limit(limit)
        )
        return [row.report_id for row in rows]


def _overdue(state: ReportState, now: datetime, report_id: str) -> list[DomainEvent]:
    return decide_report(state, MarkOverdue(now))


def _deadline_key(loaded: Loaded[ReportState], events: Sequence[DomainEvent]) -> str:
    """Each deadline is flagged once: the first screening's, and each re-screening's."""
    flag = events[0]
    assert isinstance(flag, ScreeningOverdue | RescreeningOverdue)
    kind = "overdue" if isinstance(flag, ScreeningOverdue) else "rescreen-overdue"
    return f"{kind}:{loaded.aggregate.id}:{flag.deadline}"


def _deadline_set_by(
    loaded: Loaded[ReportState], events: Sequence[DomainEvent], report_id: str
) -> RecordedEvent:
    """What set the deadline a flag flags (the flag names it as its cause): the
    registration, or the screening that asked for more information."""
    if isinstance(events[0], RescreeningOverdue):
        for event in reversed(loaded.recorded):
            if isinstance(event.event, ReportScreened):
                return event
    return loaded.recorded[0]


def screening_overdue(interval_s: float = 60.0) -> Sweep[ReportState, str]:
    """A report nobody screened before its urgency deadline gets one ``ScreeningOverdue``; a
    report waiting for more information past its re-screen deadline, one
    ``RescreeningOverdue`` per such deadline."""
    return Sweep(
        name="screening overdue",
        kind=REPORT,
        due=_due,
        decide=_overdue,
        key=_deadline_key,
        cause=_deadline_set_by,
        actor=ACTOR,
        interval_s=interval_s,
        limit=500,
        done="report(s)",
    )


# -- children owed a record ------------------------------------------------------------------


def child_recorder(interval_s: float = 2.0, grace_s: float = 10.0) -> Inbox[Any]:
    """Records the children still owed a record by this site. The request that registered a
    report records its children itself, within milliseconds; the inbox leaves them to it for
    ``grace_s``, so the two rarely race (a race is harmless: one record is stored)."""

    async def pending(ports: Ports, limit: int) -> Sequence[Any]:
        assert ports.engine is not None
        owed = pending_children.c
        async with ports.engine.connect() as conn:
            return (
                await conn.execute(
                    select(pending_children)
                    .where(
                        # Another site's report or case is that site's to answer (its intake
                        # owns the child aggregate there); here it only arrived by sourcing.
                        owed.site == ports.settings.site,
                        ~exists().where(children.c.child_id == owed.child_id),
                        or_(
                            owed.source != "report",
                            owed.requested_at < ports.clock() - timedelta(seconds=grace_s),
                        ),
                    )
                    .order_by(owed.requested_at, owed.child_id)
                    .limit(limit)
                )
            ).all()

    async def react(ports: Ports, row: Any) -> Reaction[ChildState]:
        event = ChildRecorded.model_validate(row.event)
        found = await likely_matches(
            ports,
            event.details,
            commune=event.commune,
            received_at=event.received_at,
            report_id=event.report_id,
        )
        command = RecordChild(event, found)
        return Reaction(
            kind=CHILD,
            aggregate_id=event.child_id,
            decide=lambda state: decide_child(state, command),
            key=record_key(ports, event.child_id, "loop"),
            expect=Expect.new(),
            actor=RECORDER,
            causation_id=row.request_id,
            correlation_id=row.correlation_id,
        )

    return Inbox(
        name="child recorder",
        pending=pending,
        react=react,
        interval_s=interval_s,
        done="child record(s)",
        reaction="intake.child-recorder",
    )
