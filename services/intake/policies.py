"""The ScreeningOverdue policy: a report nobody screened before its urgency deadline gets a
``ScreeningOverdue`` event, once.

Every instance of the service may run this loop. Each firing is appended with the report's
projected version as expected version and a key derived from the report and its deadline,
so when two instances fire together the log keeps one event: the second append is either
recognised as the same event (duplicate) or refused as a conflict, and does nothing."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from services.intake.domain import MarkOverdue, decide_report, iso, report_state
from services.intake.projections import reports
from services.intake.web import aggregate
from shared.envelope import Actor
from shared.eventstore import ConcurrencyConflict
from shared.loops import repeat
from shared.service import Runtime

log = logging.getLogger(__name__)
ACTOR = Actor.system("intake.screening-overdue")


async def fire_overdue(runtime: Runtime, now: datetime | None = None, limit: int = 500) -> int:
    """One pass: returns how many ScreeningOverdue events this pass stored (not duplicates)."""
    assert runtime.engine is not None and runtime.store is not None
    now = now or datetime.now(UTC)
    async with runtime.engine.connect() as conn:
        rows = (
            await conn.execute(
                select(reports.c.report_id, reports.c.version, reports.c.deadline)
                .where(
                    reports.c.screened_at.is_(None),
                    reports.c.overdue.is_(False),
                    reports.c.deadline < now,
                )
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
        try:
            result = await runtime.commit(
                agg,
                row.version,
                events,
                actor=ACTOR,
                idempotency_key=f"overdue:{row.report_id}:{iso(row.deadline)}",
            )
        except ConcurrencyConflict:
            continue  # another instance fired, or the report moved on: look again next pass
        if not result.duplicate:
            fired += 1
    return fired


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


screening_overdue = screening_overdue_every(60.0)
