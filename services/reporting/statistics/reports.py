"""Periodic statistical reports: a definition (indicators, breakdowns, period kind, days allowed
after the period's end), and the policy that publishes each period once it has closed.

Several instances may run the policy at once. A publication is appended on a new aggregate
named by the definition and the period, with expected version 0 and an idempotency key of the
same parts: whichever instance writes first publishes, and the others get a duplicate or a
conflict and publish nothing. Before publishing, the policy waits until the facts have read
every event the streams held when it started, so a report counts what the log knew."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from nats.js.errors import NotFoundError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from services.reporting.events import ReportItem, StatisticalReportPublished
from services.reporting.statistics import facts
from services.reporting.statistics.compute import (
    Problem,
    compute_answer,
    indicator_named,
    make_query,
)
from services.reporting.statistics.periods import (
    PERIOD_KINDS,
    Period,
    day_start,
    local_day,
    parse_period,
    period_of,
)
from services.reporting.statistics.publications import definitions, publications
from services.reporting.statistics.query import TooManyCells
from shared.envelope import Actor, Aggregate
from shared.eventstore import ConcurrencyConflict
from shared.ids import derived_id
from shared.loops import repeat
from shared.service import Runtime

log = logging.getLogger(__name__)
ACTOR = Actor.system("reporting.statistical-reports")


def _utc_now() -> datetime:
    return datetime.now(UTC)


def report_id(definition_id: str, period: str) -> str:
    return derived_id("statistical-report", definition_id, period)


def due_at(period: Period, due_days: int) -> datetime:
    """Midnight (reporting time zone) starting the day after the period, plus the days
    allowed."""
    return day_start(period.end + timedelta(days=1 + due_days))


def closed_periods(first: Period, kind: str, today: date) -> list[Period]:
    """Periods from ``first`` up to the last one that ended before ``today``."""
    out = []
    period = first
    while period.end < today:
        out.append(period)
        period = period_of(period.end + timedelta(days=1), kind)
    return out


MAX_PUBLICATION_BYTES = 800_000  # under NATS's default 1 MB message limit, with the envelope
TOO_LARGE = {
    "en": "Too large to publish: break it down less.",
    "fr": "Trop volumineux pour être publié : ventilez moins.",
}


def fit(tables: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The tables, the largest replaced by a note until the publication fits in one event."""
    sizes = [len(json.dumps(t)) for t in tables]
    for index in sorted(range(len(tables)), key=lambda i: -sizes[i]):
        if sum(sizes) <= MAX_PUBLICATION_BYTES:
            break
        tables[index] = {"indicator": tables[index]["indicator"], "error": TOO_LARGE}
        sizes[index] = len(json.dumps(tables[index]))
    return tables


def finer(inner: str, outer: str) -> bool:
    return PERIOD_KINDS.index(inner) < PERIOD_KINDS.index(outer)


async def item_tables(
    conn: AsyncConnection, items: list[dict[str, Any]], period: Period
) -> list[dict[str, Any]]:
    """Each item's answer for the period, suppressed as for any reader who is not an auditor."""
    tables = []
    for raw in items:
        item = ReportItem.model_validate(raw)
        try:
            query = make_query(
                indicator_named(item.indicator),
                start=period.start,
                end=period.end,
                period=item.period,
                by=item.by,
                filters=item.filters,
                today=period.end,
            )
            tables.append(await compute_answer(conn, query, protect=True))
        except (Problem, TooManyCells) as exc:
            # The definition was valid when made; a filter's agency may since have gone. The
            # report says which table could not be computed rather than not appearing.
            reason = getattr(exc, "message", None)
            tables.append(
                {
                    "indicator": {"code": item.indicator},
                    "error": {"en": reason.en, "fr": reason.fr} if reason else {"en": "", "fr": ""},
                }
            )
    return tables


@dataclass
class ReportPolicy:
    clock: Callable[[], datetime] = _utc_now
    interval_s: float = 60.0
    catch_up_timeout_s: float = 30.0
    fired: list[str] = field(default_factory=list)  # report ids this instance published

    async def loop(self, runtime: Runtime) -> None:
        async def tick() -> None:
            await self.run_once(runtime)

        await repeat(tick, interval_s=self.interval_s, label="statistical reports")

    async def run_once(self, runtime: Runtime) -> int:
        """Publish every closed period not yet published; returns how many this instance
        published."""
        assert runtime.engine is not None
        now = self.clock()
        today = local_day(now)
        async with runtime.engine.connect() as conn:
            defined = (await conn.execute(select(definitions))).all()
            done = {
                (row.definition_id, row.period)
                for row in (
                    await conn.execute(select(publications.c.definition_id, publications.c.period))
                ).all()
            }
        todo = []
        for d in defined:
            first = parse_period(d.first_period, d.period_kind)
            for period in closed_periods(first, d.period_kind, today):
                if (d.definition_id, period.key) not in done:
                    todo.append((d, period))
        if not todo or not await self._facts_caught_up(runtime):
            return 0
        count = 0
        for d, period in todo:
            count += await self._publish(runtime, d, period, now)
        return count

    async def _facts_caught_up(self, runtime: Runtime) -> bool:
        assert runtime.nc is not None
        js = runtime.nc.jetstream()
        waiting = []
        for projector in runtime.projectors:
            if projector.projection.name != facts.FACTS_NAME:
                continue
            try:
                last = int((await js.stream_info(projector.stream)).state.last_seq)
            except NotFoundError:
                continue
            waiting.append((projector, last))
        for projector, last in waiting:
            if not await projector.wait_for(last, self.catch_up_timeout_s):
                log.warning("statistical reports wait: %s behind", projector.label)
                return False
        return True

    async def _publish(self, runtime: Runtime, d: Any, period: Period, now: datetime) -> int:
        assert runtime.engine is not None
        async with runtime.engine.connect() as conn:
            tables = fit(await item_tables(conn, list(d.items), period))
        deadline = due_at(period, d.due_days)
        rid = report_id(d.definition_id, period.key)
        event = StatisticalReportPublished(
            report_id=rid,
            definition_id=d.definition_id,
            period=period.key,
            period_start=period.start.isoformat(),
            period_end=period.end.isoformat(),
            published_at=_iso(now),
            due_at=_iso(deadline),
            within_deadline=now <= deadline,
            tables=tables,
        )
        try:
            result = await runtime.commit(
                Aggregate("audit", runtime.settings.site, "statreport", rid),
                0,
                [event],
                actor=ACTOR,
                idempotency_key=f"published:{d.definition_id}:{period.key}",
            )
        except ConcurrencyConflict:
            return 0  # another instance published it
        if result.duplicate:
            return 0
        self.fired.append(rid)
        return 1


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


DEFAULT_POLICY = ReportPolicy()
