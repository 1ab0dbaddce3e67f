"""Which agency owns each case, and which of intake's records each case holds, learnt from
casework's events: the child's identity follows the case.

The agency that owns a case reads the child records and the reports linked to it, through
intake's own routes, recorded as reads like any other; an accepted transfer moves the case,
so the new owner gains them and the previous one loses them (keeping only what it recorded
itself). All of it comes from the CASEWORK stream, whose events for one case arrive in
order; casework's database is never read."""

from __future__ import annotations

from sqlalchemy import (
    Column,
    ColumnElement,
    Index,
    MetaData,
    String,
    Table,
    and_,
    exists,
    update,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.casework import CaseOpened, ChildIdentified, ReportAttachedToCase, TransferAccepted
from shared.projection import Projection
from shared.recorded import RecordedEvent

metadata = MetaData()
case_owners = Table(
    "intake_case_owners",
    metadata,
    Column("case_id", String(64), primary_key=True),
    Column("agency", String(200), nullable=False, index=True),
    Column("unit", String(200)),
)
# The records a case holds: kind "child" (the case's child, a child identified on it) or
# "report" (the opening report, reports attached later).
case_records = Table(
    "intake_case_records",
    metadata,
    Column("case_id", String(64), primary_key=True),
    Column("kind", String(10), primary_key=True),
    Column("record_id", String(64), primary_key=True),
    Index("ix_intake_case_records_record", "kind", "record_id"),
)
ownership_projection = Projection(name="intake.case_owners", version=1, metadata=metadata)


async def _holds(conn: AsyncConnection, case_id: str, kind: str, record_id: str | None) -> None:
    if record_id:
        await conn.execute(
            insert(case_records)
            .values(case_id=case_id, kind=kind, record_id=record_id)
            .on_conflict_do_nothing()
        )


@ownership_projection.on("casework", "CaseOpened")
async def _opened(conn: AsyncConnection, e: RecordedEvent) -> None:
    ev = e.event
    assert isinstance(ev, CaseOpened)
    await conn.execute(
        insert(case_owners)
        .values(case_id=ev.case_id, agency=ev.agency, unit=ev.unit)
        .on_conflict_do_nothing()
    )
    await _holds(conn, ev.case_id, "child", ev.child_id)
    await _holds(conn, ev.case_id, "report", ev.report_id)


@ownership_projection.on("casework", "ReportAttachedToCase")
async def _attached(conn: AsyncConnection, e: RecordedEvent) -> None:
    ev = e.event
    assert isinstance(ev, ReportAttachedToCase)
    await _holds(conn, e.aggregate.id, "report", ev.report_id)
    await _holds(conn, e.aggregate.id, "child", ev.child_id)


@ownership_projection.on("casework", "ChildIdentified")
async def _identified(conn: AsyncConnection, e: RecordedEvent) -> None:
    ev = e.event
    assert isinstance(ev, ChildIdentified)
    await _holds(conn, e.aggregate.id, "child", ev.child_id)


@ownership_projection.on("casework", "TransferAccepted")
async def _transferred(conn: AsyncConnection, e: RecordedEvent) -> None:
    ev = e.event
    assert isinstance(ev, TransferAccepted)
    await conn.execute(
        update(case_owners)
        .where(case_owners.c.case_id == e.aggregate.id)
        .values(agency=ev.to_agency, unit=ev.to_unit)
    )


def _held_by_agency(agency: str, kind: str, record_id: ColumnElement[str]) -> ColumnElement[bool]:
    return exists().where(
        case_records.c.kind == kind,
        case_records.c.record_id == record_id,
        case_owners.c.case_id == case_records.c.case_id,
        case_owners.c.agency == agency,
    )


def report_owned_by(agency: str, report_id: ColumnElement[str]) -> ColumnElement[bool]:
    """Whether a case of ``agency`` holds the report."""
    return _held_by_agency(agency, "report", report_id)


def child_owned_by(
    agency: str, child_id: ColumnElement[str], report_id: ColumnElement[str]
) -> ColumnElement[bool]:
    """Whether a case of ``agency`` holds the child, or the report that mentioned it (a
    child confirmed as a duplicate is followed on the case under its earlier record; the
    report's own record of the child comes with the report)."""
    return _held_by_agency(agency, "child", child_id) | and_(
        report_id.is_not(None), _held_by_agency(agency, "report", report_id)
    )
