"""Casework's background policies, run on every instance at once.

* **Case opener** (a process manager): the projection only records accepted reports as
  pending; this loop turns each into ``CaseOpened`` or ``ReportAttachedToCase``. The case id
  is derived from the child and how many cases the child already has, and the idempotency
  key from the report and child, so two instances racing on one report write it once: the
  loser's append is a duplicate or a version conflict, and it moves on.
* **Overdue flagger**: a stage past its due date gets one ``StageOverdue``, keyed by the case
  and the position where the stage began, so re-entering a stage after reopening can be
  flagged again but no stage is ever flagged twice.
* **Missed-visit flagger**: a follow-up visit not recorded by the day the previous visit set
  gets one ``FollowUpVisitOverdue``, keyed by the case and the position of the visit that
  set the date, so each scheduled visit is flagged at most once.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from contracts import casework as ev
from services.casework.config import load_rules
from services.casework.domain import (
    AttachReport,
    CaseState,
    FlagOverdue,
    FlagVisitOverdue,
    OpenCase,
    decide,
    fold,
)
from services.casework.read.tables import cases, pending
from shared.causation import caused_by, caused_by_event
from shared.envelope import Actor, Aggregate
from shared.eventstore import ConcurrencyConflict
from shared.ids import derived_id
from shared.loops import raise_if_cancelling, repeat
from shared.recorded import RecordedEvent
from shared.service import Runtime
from shared.telemetry import continue_trace

log = logging.getLogger(__name__)

POLL_S = 1.0  # read on every turn, so tests may shorten it
OPENER = Actor.system("casework.opener")
FLAGGER = Actor.system("casework.overdue")
VISITS = Actor.system("casework.visits")


def case_aggregate(runtime: Runtime, case_id: str) -> Aggregate:
    return Aggregate("casework", runtime.settings.site, "case", case_id)


async def load_case(runtime: Runtime, case_id: str) -> tuple[CaseState, list[RecordedEvent]]:
    assert runtime.store is not None
    recorded = await runtime.store.load(case_aggregate(runtime, case_id))
    return fold((r.event, r.actor.user) for r in recorded), recorded


# -- opening -------------------------------------------------------------------------------


async def open_pending_once(runtime: Runtime, limit: int = 100) -> int:
    """Open or extend a case for each pending (report, child); returns how many it wrote."""
    assert runtime.engine is not None
    async with runtime.engine.connect() as conn:
        rows = (
            await conn.execute(
                select(pending)
                .where(pending.c.status == "pending")
                .order_by(pending.c.seq)
                .limit(limit)
            )
        ).all()
    written = 0
    for row in rows:
        try:
            # The case's events continue the accepted report's trace, name it as their
            # cause, and carry its chain.
            with (
                continue_trace("casework.case-opener", row._mapping),
                caused_by(row.event_id, row.correlation_id),
            ):
                written += await _open_one(runtime, row.report_id, row.child_id, row.data)
        except ConcurrencyConflict:
            continue  # another instance got there first, or the case moved: next turn
        except Exception as exc:
            # One unreadable report must not hold up the others; it is retried next turn.
            raise_if_cancelling(exc)
            log.warning("case opener: report skipped this turn: %s", type(exc).__name__)
    return written


def _aware(moment: datetime) -> datetime:
    # RFC 3339 always carries an offset; a bare time from an older producer is taken as UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def _open_one(runtime: Runtime, report_id: str, child_id: str, data: dict[str, Any]) -> int:
    assert runtime.engine is not None
    async with runtime.engine.connect() as conn:
        status = (
            await conn.execute(
                select(pending.c.status)
                .where(pending.c.report_id == report_id)
                .where(pending.c.child_id == child_id)
            )
        ).scalar()
        if status != "pending":
            return 0  # done by another instance since we listed it
        existing = (
            await conn.execute(
                select(cases.c.case_id, cases.c.status).where(cases.c.child_id == child_id)
            )
        ).all()
    rules = load_rules()
    key = f"open:{report_id}:{child_id}"
    current = next((c for c in existing if c.status != "closed"), None)
    if current is not None:
        state, recorded = await load_case(runtime, current.case_id)
        events = decide(
            state,
            AttachReport(
                report_id=report_id,
                child_id=child_id,
                concerns=tuple(data["concerns"]),
                urgency=data["urgency"],
                received_at=data["received_at"],
            ),
            rules,
        )
        case_id, expected = current.case_id, recorded[-1].seq
    else:
        # One more case for this child: the count makes the id, so two instances that both
        # see "no open case" write to the same new aggregate and only one of them succeeds.
        case_id = derived_id("casework.case", child_id, str(len(existing) + 1))
        events = decide(
            CaseState(),
            OpenCase(
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
            ),
            rules,
        )
        expected = 0
    if not events:
        return 0
    result = await runtime.commit(
        case_aggregate(runtime, case_id), expected, events, actor=OPENER, idempotency_key=key
    )
    return 0 if result.duplicate else len(events)


# -- overdue stages ------------------------------------------------------------------------

_STAGE_STARTS = (ev.CaseOpened, ev.StageChanged, ev.CaseReopened)


async def flag_overdue_once(runtime: Runtime, now: datetime | None = None) -> int:
    assert runtime.engine is not None
    now = now or datetime.now(UTC)
    async with runtime.engine.connect() as conn:
        due = (
            await conn.execute(
                select(cases.c.case_id)
                .where(cases.c.status != "closed")
                .where(cases.c.overdue_flagged.is_(False))
                .where(cases.c.stage_due_at < now)
                .order_by(cases.c.stage_due_at)
                .limit(200)
            )
        ).scalars()
        case_ids = list(due)
    flagged = 0
    for case_id in case_ids:
        # Decide on the log, not the read model, so the key names the stage truly current.
        state, recorded = await load_case(runtime, case_id)
        events = decide(state, FlagOverdue(now=now), load_rules())
        if not events:
            continue
        began = next(r for r in reversed(recorded) if isinstance(r.event, _STAGE_STARTS))
        try:
            # The flag names the event that began the stage (and set its due date).
            with caused_by_event(began):
                result = await runtime.commit(
                    case_aggregate(runtime, case_id),
                    recorded[-1].seq,
                    events,
                    actor=FLAGGER,
                    idempotency_key=f"overdue:{case_id}:{began.seq}",
                )
        except ConcurrencyConflict:
            continue
        flagged += 0 if result.duplicate else 1
    return flagged


# -- missed follow-up visits --------------------------------------------------------------


async def flag_missed_visits_once(runtime: Runtime, now: datetime | None = None) -> int:
    assert runtime.engine is not None
    now = now or datetime.now(UTC)
    async with runtime.engine.connect() as conn:
        due = (
            await conn.execute(
                select(cases.c.case_id)
                .where(cases.c.status != "closed")
                .where(cases.c.visit_overdue_flagged.is_(False))
                .where(cases.c.visit_due_at <= now)
                .order_by(cases.c.visit_due_at)
                .limit(200)
            )
        ).scalars()
        case_ids = list(due)
    flagged = 0
    for case_id in case_ids:
        state, recorded = await load_case(runtime, case_id)
        events = decide(state, FlagVisitOverdue(today=now.date()), load_rules())
        if not events:
            continue
        scheduled = next(
            r for r in reversed(recorded) if isinstance(r.event, ev.FollowUpVisitRecorded)
        )
        try:
            # The flag names the visit that scheduled the missed one.
            with caused_by_event(scheduled):
                result = await runtime.commit(
                    case_aggregate(runtime, case_id),
                    recorded[-1].seq,
                    events,
                    actor=VISITS,
                    idempotency_key=f"visit-overdue:{case_id}:{scheduled.seq}",
                )
        except ConcurrencyConflict:
            continue
        flagged += 0 if result.duplicate else 1
    return flagged


# -- the loops -----------------------------------------------------------------------------


async def _every(runtime: Runtime, step: Callable[[Runtime], Awaitable[int]], label: str) -> None:
    async def one_turn() -> None:
        await step(runtime)

    await repeat(one_turn, interval_s=POLL_S, label=label)


async def open_cases(runtime: Runtime) -> None:
    await _every(runtime, open_pending_once, "case opener")


async def flag_overdue(runtime: Runtime) -> None:
    await _every(runtime, flag_overdue_once, "overdue flagger")


async def flag_missed_visits(runtime: Runtime) -> None:
    await _every(runtime, flag_missed_visits_once, "missed-visit flagger")
