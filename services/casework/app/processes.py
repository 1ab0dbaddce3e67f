"""Casework's processes, run on every instance at once (``shared.process``).

* **Case opener** (an inbox): the projection records each accepted report's children as
  pending; each becomes ``CaseOpened`` or ``ReportAttachedToCase``. A new case's id is
  derived from the child and how many cases the child already has, and the idempotency key
  from the report and child, so two instances racing on one report write it once: the
  loser's append is a duplicate or a version conflict, and it moves on. Across sites the
  row is answered by the site keeping the child's open case (only it may append to that
  case), else by the site that accepted the report (``domain.sites.answering_site``).
* **Overdue stages** (a sweep): a stage past its due date gets one ``StageOverdue``, keyed by
  the case and the position where the stage began, so re-entering a stage after reopening
  can be flagged again but no stage is ever flagged twice.
* **Missed visits** (a sweep): a follow-up visit not recorded by the day the previous visit
  set gets one ``FollowUpVisitOverdue``, keyed by the case and the position of the visit
  that set the date, so each scheduled visit is flagged at most once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from contracts import casework as ev
from services.casework.app.cases import CASE
from services.casework.config import load_rules
from services.casework.domain import (
    AttachReport,
    CaseState,
    FlagOverdue,
    FlagVisitOverdue,
    OpenCase,
    decide,
)
from services.casework.domain.rules import Rules
from services.casework.domain.sites import OpenCaseSite, answering_site, may_attach_here
from services.casework.read.tables import cases, pending
from shared.commands import Expect, Loaded
from shared.envelope import Actor
from shared.events import DomainEvent
from shared.ids import derived_id
from shared.process import Inbox, Ports, Reaction, Sweep, this_site
from shared.recorded import RecordedEvent

OPENER = Actor.system("casework.opener")
FLAGGER = Actor.system("casework.overdue")
VISITS = Actor.system("casework.visits")


# -- opening -------------------------------------------------------------------------------


_OPEN_FIRST = (cases.c.opened_at, cases.c.case_id)  # a child's open case: the earliest opened


def _answering_site() -> Any:
    """``answering_site`` in SQL, for the listed row's child: its open case's receiver or
    owner; NULL without an open case (the report's site then answers)."""
    return (
        select(func.coalesce(cases.c.released_to, cases.c.site))
        .where(cases.c.child_id == pending.c.child_id)
        .where(cases.c.status != "closed")
        .order_by(*_OPEN_FIRST)
        .limit(1)
        .scalar_subquery()
    )


async def _pending(ports: Ports, limit: int) -> Sequence[Any]:
    """The rows this site answers: its own reports for children without an open case, and
    any site's reports for children whose open case it keeps (decision 0029, follow-up)."""
    assert ports.engine is not None
    answered_by = func.coalesce(_answering_site(), pending.c.site)
    async with ports.engine.connect() as conn:
        return (
            await conn.execute(
                select(pending, answered_by.label("answered_by"))
                .where(pending.c.status == "pending")
                .where(this_site(answered_by, ports))
                .order_by(pending.c.seq)
                .limit(limit)
            )
        ).all()


def _aware(moment: datetime) -> datetime:
    # RFC 3339 always carries an offset; a bare time from an older producer is taken as UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def _open(ports: Ports, row: Any) -> Reaction[CaseState] | None:
    """The case the report's child gets: its open case extended, or a new one; None when
    another site answers the row (checked again on what the read model now holds)."""
    assert ports.engine is not None
    report_id, child_id, data = row.report_id, row.child_id, row.data
    async with ports.engine.connect() as conn:
        status = (
            await conn.execute(
                select(pending.c.status)
                .where(pending.c.report_id == report_id)
                .where(pending.c.child_id == child_id)
            )
        ).scalar()
        if status != "pending":
            return None  # done by another instance since it was listed
        existing = (
            await conn.execute(
                select(cases.c.case_id, cases.c.status, cases.c.site, cases.c.released_to)
                .where(cases.c.child_id == child_id)
                .order_by(*_OPEN_FIRST)
            )
        ).all()
    current = next((c for c in existing if c.status != "closed"), None)
    where = OpenCaseSite(current.site, current.released_to) if current is not None else None
    here = ports.settings.site
    if answering_site(row.site, where) != here:
        return None  # the site keeping the child's open case attaches it (or the report's)
    if where is not None and not may_attach_here(where, here):
        return None  # released to this site: attached once the take-over is projected
    rules = load_rules(ports.settings)
    key = f"open:{report_id}:{child_id}"
    if current is not None:
        attach = AttachReport(
            report_id=report_id,
            child_id=child_id,
            concerns=tuple(data["concerns"]),
            urgency=data["urgency"],
            received_at=data["received_at"],
        )
        return Reaction(
            kind=CASE,
            aggregate_id=current.case_id,
            decide=lambda state: decide(state, attach, rules),
            key=key,
            expect=Expect.current(),
            actor=OPENER,
            causation_id=row.event_id,
            correlation_id=row.correlation_id,
        )
    # One more case for this child: the count makes the id, so two instances that both
    # see "no open case" write to the same new aggregate and only one of them succeeds.
    case_id = derived_id("casework.case", child_id, str(len(existing) + 1))
    opening = OpenCase(
        case_id=case_id,
        child_id=child_id,
        sex=data["sex"],
        age_band=data["age_band"],
        report_id=report_id,
        agency=data["agency"],
        unit=data["unit"],
        commune=data["commune"],
        concerns=tuple(data["concerns"]),
        urgency=data["urgency"],
        immediate_danger=bool(data["immediate_danger"]),
        received_at=_aware(datetime.fromisoformat(data["received_at"])),
    )
    return Reaction(
        kind=CASE,
        aggregate_id=case_id,
        decide=lambda state: decide(state, opening, rules),
        key=key,
        expect=Expect.new(),
        actor=OPENER,
        causation_id=row.event_id,
        correlation_id=row.correlation_id,
    )


def _answered_by(row: Any) -> str | None:
    # Listed with the site that answers it, which is not always the report's (its child's
    # open case may be another site's).
    site = getattr(row, "answered_by", None) or getattr(row, "site", None)
    return str(site) if site else None


def case_opener(interval_s: float = 1.0) -> Inbox[Any]:
    """The case's events continue the accepted report's trace, name it as their cause and
    carry its chain."""
    return Inbox(
        name="case opener",
        pending=_pending,
        react=_open,
        interval_s=interval_s,
        reaction="casework.case-opener",
        site_of=_answered_by,
    )


# -- overdue stages ------------------------------------------------------------------------

_STAGE_STARTS = (ev.CaseOpened, ev.StageChanged, ev.CaseReopened)


def _began(loaded: Loaded[CaseState]) -> RecordedEvent:
    """The event that began the current stage (and set its due date)."""
    return next(r for r in reversed(loaded.recorded) if isinstance(r.event, _STAGE_STARTS))


async def _overdue_stages(ports: Ports, now: datetime, limit: int) -> Sequence[str]:
    assert ports.engine is not None
    async with ports.engine.connect() as conn:
        due = await conn.execute(
            select(cases.c.case_id)
            .where(cases.c.status != "closed")
            .where(this_site(cases.c.site, ports))
            .where(cases.c.overdue_flagged.is_(False))
            .where(cases.c.stage_due_at < now)
            .order_by(cases.c.stage_due_at)
            .limit(limit)
        )
        return list(due.scalars())


def stage_overdue(rules: Callable[[], Rules], interval_s: float = 1.0) -> Sweep[CaseState, str]:
    def flag(state: CaseState, now: datetime, case_id: str) -> list[DomainEvent]:
        return decide(state, FlagOverdue(now=now), rules())

    def key(loaded: Loaded[CaseState], events: Sequence[DomainEvent]) -> str:
        return f"overdue:{loaded.aggregate.id}:{_began(loaded).seq}"

    def cause(
        loaded: Loaded[CaseState], events: Sequence[DomainEvent], case_id: str
    ) -> RecordedEvent:
        return _began(loaded)  # the flag names the event that began the stage (its due date)

    return Sweep(
        name="overdue flagger",
        kind=CASE,
        due=_overdue_stages,
        decide=flag,
        key=key,
        cause=cause,
        actor=FLAGGER,
        interval_s=interval_s,
    )


# -- missed follow-up visits --------------------------------------------------------------


def _scheduled_by(loaded: Loaded[CaseState]) -> RecordedEvent:
    """The visit that set the date of the next one."""
    return next(
        r for r in reversed(loaded.recorded) if isinstance(r.event, ev.FollowUpVisitRecorded)
    )


async def _missed_visits(ports: Ports, now: datetime, limit: int) -> Sequence[str]:
    assert ports.engine is not None
    async with ports.engine.connect() as conn:
        due = await conn.execute(
            select(cases.c.case_id)
            .where(cases.c.status != "closed")
            .where(this_site(cases.c.site, ports))
            .where(cases.c.visit_overdue_flagged.is_(False))
            .where(cases.c.visit_due_at <= now)
            .order_by(cases.c.visit_due_at)
            .limit(limit)
        )
        return list(due.scalars())


def missed_visits(rules: Callable[[], Rules], interval_s: float = 1.0) -> Sweep[CaseState, str]:
    def flag(state: CaseState, now: datetime, case_id: str) -> list[DomainEvent]:
        return decide(state, FlagVisitOverdue(today=now.date()), rules())

    def key(loaded: Loaded[CaseState], events: Sequence[DomainEvent]) -> str:
        return f"visit-overdue:{loaded.aggregate.id}:{_scheduled_by(loaded).seq}"

    def cause(
        loaded: Loaded[CaseState], events: Sequence[DomainEvent], case_id: str
    ) -> RecordedEvent:
        return _scheduled_by(loaded)  # the flag names the visit that scheduled the missed one

    return Sweep(
        name="missed-visit flagger",
        kind=CASE,
        due=_missed_visits,
        decide=flag,
        key=key,
        cause=cause,
        actor=VISITS,
        interval_s=interval_s,
    )
