"""Periodic statistical reports: a definition (indicators, breakdowns, period kind, days allowed
after the period's end), and the policy that publishes each period once it has closed, stops
after the last period a retirement left owed, and revises recent publications that late
events changed (:mod:`.revisions`).

Several instances may run the policy at once. A publication is appended on a new aggregate
named by the definition and the period, with expected version 0 and an idempotency key of the
same parts: whichever instance writes first publishes, and the others get a duplicate or a
conflict and publish nothing. Before publishing, the policy waits until the facts have read
every event the streams held when it started, so a report counts what the log knew."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from nats.js.errors import NotFoundError
from sqlalchemy import select

from contracts.reporting import StatisticalReportPublished
from services.reporting.app.report_tables import (
    MAX_PUBLICATION_BYTES,
    POLICY_ACTOR,
    TOO_LARGE,
    fit,
    iso,
    item_tables,
)
from services.reporting.app.revisions import Reviser, last_event
from services.reporting.domain.periods import (
    PERIOD_KINDS,
    Period,
    day_start,
    local_day,
    parse_period,
    period_of,
)
from services.reporting.read import facts
from services.reporting.read.publications import definitions, publications
from shared.causation import caused_by_event
from shared.envelope import Aggregate
from shared.eventstore import ConcurrencyConflict
from shared.ids import derived_id
from shared.loops import repeat
from shared.service import Runtime

__all__ = [
    "MAX_PUBLICATION_BYTES",
    "TOO_LARGE",
    "ReportPolicy",
    "closed_periods",
    "due_at",
    "finer",
    "fit",
    "item_tables",
    "owed_periods",
    "report_id",
]

log = logging.getLogger(__name__)


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


def finer(inner: str, outer: str) -> bool:
    return PERIOD_KINDS.index(inner) < PERIOD_KINDS.index(outer)


def owed_periods(d: Any, today: date) -> list[Period]:
    """The closed periods a definition owes: none after the last one its retirement left
    owed (and none at all if it left none)."""
    periods = closed_periods(parse_period(d.first_period, d.period_kind), d.period_kind, today)
    if d.retired_at is None:
        return periods
    if d.last_period is None:
        return []
    last = parse_period(d.last_period, d.period_kind)
    return [p for p in periods if p.start <= last.start]


def reports_owed(
    defined: Sequence[Any], done: set[tuple[str, str]], site: str, today: date
) -> list[tuple[Any, Period]]:
    """Each (definition, period) this site owes and has not published. Only the site where a
    report was defined publishes it: a regional office that receives HQ's definitions holds
    only part of the country's facts, and would publish a second, smaller edition."""
    return [
        (d, period)
        for d in defined
        if d.site == site
        for period in owed_periods(d, today)
        if (d.definition_id, period.key) not in done
    ]


@dataclass
class ReportPolicy:
    clock: Callable[[], datetime] = _utc_now
    interval_s: float = 60.0
    catch_up_timeout_s: float = 30.0
    fired: list[str] = field(default_factory=list)  # report ids this instance published
    reviser: Reviser = field(default_factory=Reviser)

    async def loop(self, runtime: Runtime) -> None:
        async def tick() -> None:
            await self.run_once(runtime)

        await repeat(tick, interval_s=self.interval_s, label="statistical reports")

    async def run_once(self, runtime: Runtime) -> int:
        """Publish every closed period owed and not yet published, then revise what late
        events changed; returns how many reports this instance published (its revisions are
        in ``reviser.fired``)."""
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
        todo = reports_owed(defined, done, runtime.settings.site, today)
        count = 0
        if todo and await self._facts_caught_up(runtime):
            for d, period in todo:
                try:
                    count += await self._publish(runtime, d, period, now)
                except Exception:
                    # One definition that cannot be computed must not hold back the others'
                    # reports; it is tried again on the next pass.
                    log.exception(
                        "statistical report %s for %s not published", d.definition_id, period.key
                    )
        await self.reviser.run(runtime, now, lambda: self._facts_caught_up(runtime))
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
            published_at=iso(now),
            due_at=iso(deadline),
            within_deadline=now <= deadline,
            tables=tables,
        )
        defined = Aggregate("audit", runtime.settings.site, "statdefinition", d.definition_id)
        try:
            # A publication names the definition (as it last stood) that owed it.
            with caused_by_event(await last_event(runtime, defined)):
                result = await runtime.commit(
                    Aggregate("audit", runtime.settings.site, "statreport", rid),
                    0,
                    [event],
                    actor=POLICY_ACTOR,
                    idempotency_key=f"published:{d.definition_id}:{period.key}",
                )
        except ConcurrencyConflict:
            return 0  # another instance published it
        if result.duplicate:
            return 0
        self.fired.append(rid)
        return 1
