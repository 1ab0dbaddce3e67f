"""Periodic statistical reports as reporting records them on AUDIT: their definitions (and
their retirement), every publication with its suppressed tables as first published, and
every later revision of them, projected into reporting's own tables.

A publication's row keeps what was published (its time, tables and whether it met its
deadline): the deadline indicator counts these rows, so a revision adds a row to
``stat_revision`` and only moves the publication's revision number and version."""

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
from sqlalchemy import update as sql_update
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts import reporting as ev
from services.reporting.read.facts import event_time, instant
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
    # The site whose instance owns the aggregate: only it may append the retirement.
    Column("site", String, nullable=False),
    Column("last_seq", BigInteger, nullable=False),
    Column("retired_at", DateTime(timezone=True)),
    Column("retirement_reason", String),
    Column("last_period", String(16)),
    # The definition's version the retirement was appended at: a retry of the same retirement
    # appends there again and is recognised as its own earlier attempt.
    Column("retired_at_version", BigInteger),
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
    Column("site", String, nullable=False),
    Column("revision", Integer, nullable=False, server_default="0"),
    Column("revised_at", DateTime(timezone=True)),
    Column("last_seq", BigInteger, nullable=False),
)

revisions = Table(
    "stat_revision",
    metadata,
    Column("report_id", String, primary_key=True),
    Column("revision", Integer, primary_key=True),
    Column("revised_at", DateTime(timezone=True), nullable=False),
    Column("tables", JSONB, nullable=False),
    Column("changes", JSONB, nullable=False),
)

projection = Projection(name=PUBLICATIONS_NAME, version=2, metadata=metadata)


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
        "site": recorded.aggregate.site,
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
            site=recorded.aggregate.site,
            last_seq=recorded.seq,
        )
        .on_conflict_do_nothing()
    )


@projection.on("audit", "StatisticalReportRetired")
async def retired(conn: AsyncConnection, recorded: RecordedEvent) -> None:
    e = recorded.event
    assert isinstance(e, ev.StatisticalReportRetired)
    d = definitions.c
    await conn.execute(
        sql_update(definitions)
        .where(d.definition_id == e.definition_id, d.site == recorded.aggregate.site)
        .values(
            retired_at=instant(e.retired_at, event_time(recorded)),
            retirement_reason=e.reason,
            last_period=e.last_period,
            # The right side reads the row as it was: the version before this event.
            retired_at_version=d.last_seq,
            last_seq=recorded.seq,
        )
    )


@projection.on("audit", "StatisticalReportRevised")
async def revised(conn: AsyncConnection, recorded: RecordedEvent) -> None:
    e = recorded.event
    assert isinstance(e, ev.StatisticalReportRevised)
    p = publications.c
    # The publication's own aggregate only: a report another site published under the same
    # id is another aggregate, and its revisions are not this row's.
    moved = await conn.execute(
        sql_update(publications)
        .where(p.report_id == e.report_id, p.site == recorded.aggregate.site)
        .values(
            revision=e.revision,
            revised_at=instant(e.revised_at, event_time(recorded)),
            last_seq=recorded.seq,
        )
    )
    if moved.rowcount:
        await conn.execute(
            insert(revisions)
            .values(
                report_id=e.report_id,
                revision=e.revision,
                revised_at=instant(e.revised_at, event_time(recorded)),
                tables=e.tables,
                changes=[c.model_dump(mode="json") for c in e.changes],
            )
            .on_conflict_do_nothing()
        )
