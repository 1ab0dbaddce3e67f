"""Intake's background policies, run on every instance at once.

* **Overdue screening**: a report nobody screened before its urgency deadline gets one
  ``ScreeningOverdue``; a report screened "more information needed" and not screened again by
  its re-screen deadline gets one ``RescreeningOverdue`` per such deadline.
* **Child recorder**: every child a registered report mentions, and every child casework
  identified on a case opened directly, gets its ``ChildRecorded`` (see ``recording.py``).
* **Child corrector** (``case_corrections.py``): every correction a case worker reported
  from the case becomes the child record's ``ChildDetailsCorrected``, or its
  ``ChildCorrectionRefused`` with the reason when intake's rules refuse it.

Each firing is appended with the aggregate's projected version as expected version and a
key derived from the aggregate and what fired (the deadline; the child), so when two
instances fire together the log keeps one event: the second append is either recognised as
the same event (duplicate) or refused as a conflict, and does nothing."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import exists, or_, select

from contracts.intake import ChildRecorded, ReportScreened, RescreeningOverdue, ScreeningOverdue
from services.intake.app.aggregates import aggregate
from services.intake.app.recording import record_child
from services.intake.domain import MarkOverdue, decide_report, report_state
from services.intake.read import children, pending_children, reports
from shared.causation import caused_by, caused_by_event
from shared.envelope import Actor
from shared.eventstore import ConcurrencyConflict
from shared.loops import raise_if_cancelling, repeat
from shared.recorded import RecordedEvent
from shared.service import Runtime
from shared.telemetry import continue_trace

log = logging.getLogger(__name__)
ACTOR = Actor.system("intake.screening-overdue")
RECORDER = Actor.system("intake.child-recorder")
# The request that registered a report records its children itself, within milliseconds;
# the loop leaves them to it for this long, so the two rarely race (a race is harmless).
REQUEST_GRACE_S = 10.0


async def fire_overdue(runtime: Runtime, now: datetime | None = None, limit: int = 500) -> int:
    """One pass: returns how many overdue events this pass stored (not duplicates)."""
    assert runtime.engine is not None and runtime.store is not None
    now = now or datetime.now(UTC)
    unscreened = reports.c.screened_at.is_(None) & reports.c.overdue.is_(False)
    awaiting_more = (
        (reports.c.status == "more_information")
        & reports.c.rescreen_overdue.is_(False)
        & (reports.c.rescreen_by < now)
    )
    async with runtime.engine.connect() as conn:
        rows = (
            await conn.execute(
                select(reports.c.report_id, reports.c.version)
                .where(or_(unscreened & (reports.c.deadline < now), awaiting_more))
                .order_by(reports.c.deadline)
                .limit(limit)
            )
        ).all()
    fired = 0
    for row in rows:
        agg = aggregate(runtime, "report", row.report_id)
        recorded = await runtime.store.load(agg)
        # Decide on the log's state; append after the version the projection showed.
        events = decide_report(report_state([r.event for r in recorded]), MarkOverdue(now))
        if not events:
            continue
        flag = events[0]
        assert isinstance(flag, ScreeningOverdue | RescreeningOverdue)
        kind = "overdue" if isinstance(flag, ScreeningOverdue) else "rescreen-overdue"
        try:
            # The flag names what set the deadline it flags: the registration, or the
            # screening that asked for more information.
            with caused_by_event(_deadline_set_by(recorded, flag)):
                result = await runtime.commit(
                    agg,
                    row.version,
                    events,
                    actor=ACTOR,
                    idempotency_key=f"{kind}:{row.report_id}:{flag.deadline}",
                )
        except ConcurrencyConflict:
            continue  # another instance fired, or the report moved on: look again next pass
        if not result.duplicate:
            fired += 1
    return fired


def _deadline_set_by(
    recorded: list[RecordedEvent], flag: ScreeningOverdue | RescreeningOverdue
) -> RecordedEvent:
    if isinstance(flag, RescreeningOverdue):
        for event in reversed(recorded):
            if isinstance(event.event, ReportScreened):
                return event
    return recorded[0]


def screening_overdue_every(
    interval_s: float,
) -> Callable[[Runtime], Coroutine[Any, Any, None]]:
    """The policy loop, one pass every ``interval_s`` seconds."""

    async def screening_overdue(runtime: Runtime) -> None:
        async def one_pass() -> None:
            fired = await fire_overdue(runtime)
            if fired:
                log.info("screening overdue: %d report(s)", fired)

        await repeat(one_pass, interval_s=interval_s, label="screening overdue")

    return screening_overdue


async def record_owed_children(
    runtime: Runtime,
    now: datetime | None = None,
    grace_s: float = REQUEST_GRACE_S,
    limit: int = 200,
) -> int:
    """One pass: records the children still owed a record by this site; returns how many
    records this pass wrote (not those another writer got to first)."""
    assert runtime.engine is not None
    now = now or datetime.now(UTC)
    owed = pending_children.c
    async with runtime.engine.connect() as conn:
        rows = (
            await conn.execute(
                select(pending_children)
                .where(
                    # Another site's report or case is that site's to answer (its intake owns
                    # the child aggregate there); here it only arrived by stream sourcing.
                    owed.site == runtime.settings.site,
                    ~exists().where(children.c.child_id == owed.child_id),
                    or_(
                        owed.source != "report",
                        owed.requested_at < now - timedelta(seconds=grace_s),
                    ),
                )
                .order_by(owed.requested_at, owed.child_id)
                .limit(limit)
            )
        ).all()
    written = 0
    for row in rows:
        try:
            with (
                continue_trace("intake.child-recorder", row._mapping),
                caused_by(row.request_id, row.correlation_id),
            ):
                result = await record_child(
                    runtime,
                    ChildRecorded.model_validate(row.event),
                    actor=RECORDER,
                    causation_id=row.request_id,
                    writer="loop",
                    read_your_writes=False,
                )
        except Exception as exc:
            # One child that cannot be recorded now must not hold up the others.
            raise_if_cancelling(exc)
            log.warning("child recorder: a child skipped this turn: %s", type(exc).__name__)
            continue
        written += result.written
    return written


def child_recorder_every(
    interval_s: float, grace_s: float = REQUEST_GRACE_S
) -> Callable[[Runtime], Coroutine[Any, Any, None]]:
    async def child_recorder(runtime: Runtime) -> None:
        async def one_pass() -> None:
            written = await record_owed_children(runtime, grace_s=grace_s)
            if written:
                log.info("child recorder: %d child record(s)", written)

        await repeat(one_pass, interval_s=interval_s, label="child recorder")

    return child_recorder
