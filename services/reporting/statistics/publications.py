"""Periodic statistical reports as reporting records them on AUDIT: their definitions and
every publication, with its suppressed tables, projected into reporting's own tables."""

from __future__ import annotations

from datetime import date

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
)
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.reporting import events as ev
from services.reporting.statistics.facts import event_time, instant
from shared.projection import Projection
from shared.recorded import RecordedEvent

PUBLICATIONS_NAME = "reporting.statistical_reports"

metadata = MetaData()

definitions = Table(
    "stat_definition",
    metadata,
    Column("definition_id", String, primary_key=True),
    Column("title_en", String, nullable=False),
    Column("title_fr", String, nullable=False),
    Column("items", JSONB, nullable=False),
    Column("period_kind", String(16), nullable=False),
    Column("due_days", Integer, nullable=False),
    Column("first_period", String(16), nullable=False),
    Column("defined_at", DateTime(timezone=True), nullable=False),
    Column("defined_by_agency", String, nullable=False),
    Column("last_seq", BigInteger, nullable=False),
)

publications = Table(
    "stat_publication",
    metadata,
    Column("report_id", String, primary_key=True),
    Column("definition_id", String, nullable=False, index=True),
    Column("period", String(16), nullable=False),
    Column("period_start", Date, nullable=False),
    Column("period_end", Date, nullable=False),
    Column("published_at", DateTime(timezone=True), nullable=False, index=True),
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("within_deadline", Boolean, nullable=False),
    Column("tables", JSONB, nullable=False),
)

projection = Projection(name=PUBLICATIONS_NAME, version=1, metadata=metadata)


@projection.on("audit", "StatisticalReportDefined")
async def defined(conn: AsyncConnection, recorded: RecordedEvent) -> None:
    e = recorded.event
    assert isinstance(e, ev.StatisticalReportDefined)
    row = {
        "definition_id": e.definition_id,
        "title_en": e.title_en,
        "title_fr": e.title_fr,
        "items": [item.model_dump(mode="json") for item in e.items],
        "period_kind": e.period_kind,
        "due_days": e.due_days,
        "first_period": e.first_period,
        "defined_at": event_time(recorded),
        "defined_by_agency": recorded.actor.agency,
        "last_seq": recorded.seq,
    }
    stmt = insert(definitions).values(**row)
    await conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["definition_id"],
            set_={k: stmt.excluded[k] for k in row if k != "definition_id"},
        )
    )


@projection.on("audit", "StatisticalReportPublished")
async def published(conn: AsyncConnection, recorded: RecordedEvent) -> None:
    e = recorded.event
    assert isinstance(e, ev.StatisticalReportPublished)
    at = event_time(recorded)
    await conn.execute(
        insert(publications)
        .values(
            report_id=e.report_id,
            definition_id=e.definition_id,
            period=e.period,
            period_start=date.fromisoformat(e.period_start),
            period_end=date.fromisoformat(e.period_end),
            published_at=instant(e.published_at, at),
            due_at=instant(e.due_at, at),
            within_deadline=e.within_deadline,
            tables=e.tables,
        )
        .on_conflict_do_nothing()
    )
