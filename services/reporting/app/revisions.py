"""Revisions of published reports. A regional office whose link dropped sends its events once
it is back, after the period's report was published: the published figures undercount. For
``RELAIS_REPORT_REVISION_DAYS`` after a publication, the policy recomputes its tables and,
when their figures differ from the latest published ones, appends
``StatisticalReportRevised`` on the publication's own aggregate.

Recomputing is the costly part, so it happens only when it can find something: at most once
per :data:`REVISION_CHECK_EVERY`, only after the facts have caught up with the log (a lagging
projection would "revise" a report downwards), and only for publications whose facts have
moved since their tables were computed (the stream positions every table carries in its
freshness) or since this instance last computed them.

Two instances may revise at once: both append revision n after the same version with the
same idempotency key (report id and n), so the server stores one, and the other's append is
recognised as a duplicate."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.reporting import StatisticalReportRevised
from services.reporting.app.compute import freshness
from services.reporting.app.report_tables import (
    POLICY_ACTOR,
    changes,
    facts_positions,
    fit,
    iso,
    item_tables,
    small_differences,
)
from services.reporting.domain.periods import Period
from services.reporting.domain.suppression import THRESHOLD
from services.reporting.read import facts
from services.reporting.read.publications import definitions, publications, revisions
from shared.causation import caused_by_event
from shared.envelope import Aggregate
from shared.eventstore import ConcurrencyConflict
from shared.recorded import RecordedEvent
from shared.service import Runtime

log = logging.getLogger(__name__)

# Revisions are not urgent, and each one is a whole report in the log: a backlog that a
# regional office sends over an hour makes one or two revisions, not one per event.
REVISION_CHECK_EVERY = timedelta(minutes=60)
FACTS_STREAMS = tuple(c.upper() for c in facts.projection.contexts)


async def last_event(runtime: Runtime, aggregate: Aggregate) -> RecordedEvent:
    """The aggregate's latest event: what a publication or revision of it names as cause."""
    assert runtime.store is not None
    recorded = await runtime.store.load(aggregate)
    if not recorded:
        raise ConcurrencyConflict(aggregate, 1, 0)  # not in the log yet: the next pass
    return recorded[-1]


def revision_key(report_id: str, revision: int) -> str:
    return f"revised:{report_id}:{revision}"


async def revisable(conn: AsyncConnection, site: str, since: datetime) -> list[Any]:
    """This site's publications since ``since``, each with its latest tables and its
    definition's items."""
    p = publications.c
    latest = revisions.alias("latest")
    return list(
        (
            await conn.execute(
                select(
                    p.report_id,
                    p.definition_id,
                    p.period,
                    p.period_start,
                    p.period_end,
                    p.revision,
                    p.last_seq,
                    func.coalesce(latest.c.tables, p.tables).label("tables"),
                    definitions.c["items"].label("items"),
                )
                .select_from(
                    publications.join(
                        definitions, definitions.c.definition_id == p.definition_id
                    ).outerjoin(
                        latest,
                        and_(latest.c.report_id == p.report_id, latest.c.revision == p.revision),
                    )
                )
                .where(p.site == site, p.published_at >= since)
                .order_by(p.published_at)
            )
        ).all()
    )


@dataclass
class Reviser:
    every: timedelta = REVISION_CHECK_EVERY
    revision_days: int | None = None  # None: the service's RELAIS_REPORT_REVISION_DAYS
    next_check: datetime | None = None
    # Per report, the facts' positions this instance last computed its figures from.
    checked_at: dict[str, dict[str, int]] = field(default_factory=dict)
    fired: list[str] = field(default_factory=list)  # "report id#n" this instance appended

    async def run(
        self, runtime: Runtime, now: datetime, caught_up: Callable[[], Awaitable[bool]]
    ) -> int:
        """Revise every recent publication whose figures changed; returns how many revisions
        this instance appended."""
        assert runtime.engine is not None
        days = self.revision_days
        if days is None:
            days = runtime.settings.report_revision_days
        if days <= 0 or (self.next_check is not None and now < self.next_check):
            return 0
        async with runtime.engine.connect() as conn:
            rows = await revisable(conn, runtime.settings.site, now - timedelta(days=days))
        if not rows:
            self.next_check = now + self.every
            return 0
        if not await caught_up():
            return 0  # no waiting for the next slot: try again on the next pass
        self.next_check = now + self.every
        async with runtime.engine.connect() as conn:
            positions = facts_positions([{"freshness": await freshness(conn)}], FACTS_STREAMS)
        count = 0
        for row in rows:
            seen = self.checked_at.get(row.report_id) or facts_positions(row.tables, FACTS_STREAMS)
            if seen == positions:
                continue  # nothing has reached the facts since these figures were computed
            count += await self._recheck(runtime, row, now, positions)
        return count

    async def _recheck(
        self, runtime: Runtime, row: Any, now: datetime, positions: dict[str, int]
    ) -> int:
        assert runtime.engine is not None
        period = Period(row.period_start, row.period_end, row.period)
        async with runtime.engine.connect() as conn:
            tables = fit(await item_tables(conn, list(row.items), period))
        # The positions read before computing, not the tables' own freshness (read after their
        # facts were loaded): an event applied in between is then rechecked, not missed.
        self.checked_at[row.report_id] = positions
        changed = changes(list(row.tables), tables)
        if not changed:
            return 0
        if small_differences(list(row.tables), tables, THRESHOLD):
            # Published now, the difference would single out the few late children; more
            # late events (or none) decide later. The positions stay recorded, so this is
            # not recomputed until the facts move again.
            log.info("statistical report %s: revision held back (small differences)", row.report_id)
            return 0
        revision = int(row.revision) + 1
        event = StatisticalReportRevised(
            report_id=row.report_id,
            definition_id=row.definition_id,
            period=row.period,
            revision=revision,
            revised_at=iso(now),
            tables=tables,
            changes=changed,
        )
        published = Aggregate("audit", runtime.settings.site, "statreport", row.report_id)
        try:
            # A revision names the edition it revises.
            with caused_by_event(await last_event(runtime, published)):
                result = await runtime.commit(
                    published,
                    int(row.last_seq),
                    [event],
                    actor=POLICY_ACTOR,
                    idempotency_key=revision_key(row.report_id, revision),
                )
        except ConcurrencyConflict:
            # The publication moved on since it was read (another instance's revision under
            # a later number): the next check compares with that one.
            self.checked_at.pop(row.report_id, None)
            log.info("statistical report revision %s of %s: stale", revision, row.report_id)
            return 0
        if result.duplicate:
            # Another instance's tables were stored: their own freshness is the baseline now.
            self.checked_at.pop(row.report_id, None)
            return 0
        self.fired.append(f"{row.report_id}#{revision}")
        log.info(
            "statistical report %s revised (revision %s, %s tables changed)",
            row.report_id,
            revision,
            len(changed),
        )
        return 1
