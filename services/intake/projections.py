"""Intake's read model: reports (for lists, filters and the overdue policy), child records
(for duplicate matching and search), suggestions, links and complaints.

All intake events live on one stream, so a report's events arrive here in order; a child
record and its report are different aggregates and each handler stands on its own."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.intake import matching
from services.intake.domain import age_range, deadline_for, parse_time
from services.intake.events import (
    ChildRecorded,
    ComplaintFiled,
    DuplicateConfirmed,
    DuplicateRejected,
    DuplicateSuggested,
    ReportAmended,
    ReportRegistered,
    ReportScreened,
    ScreeningOverdue,
)
from shared.projection import Projection
from shared.recorded import RecordedEvent

metadata = MetaData()
reports = Table(
    "intake_reports",
    metadata,
    Column("report_id", String(64), primary_key=True),
    Column("agency", String(200), nullable=False, index=True),
    Column("unit", String(200)),
    Column("channel", String(50), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False, index=True),
    Column("commune", String(100), nullable=False),
    Column("concerns", ARRAY(String(100)), nullable=False),
    Column("status", String(50), nullable=False, index=True),
    Column("urgency", String(20), nullable=False),
    Column("deadline", DateTime(timezone=True), nullable=False, index=True),
    Column("screened_at", DateTime(timezone=True)),
    Column("within_deadline", Boolean),
    Column("overdue", Boolean, nullable=False, default=False),
    Column("immediate_danger", Boolean, nullable=False),
    Column("children_count", Integer, nullable=False),
    Column("document", JSONB, nullable=False),  # the report as it now reads, amendments applied
    Column("version", BigInteger, nullable=False),  # last stream sequence: expected version
)
children = Table(
    "intake_children",
    metadata,
    Column("child_id", String(64), primary_key=True),
    Column("report_id", String(64), nullable=False, index=True),
    Column("agency", String(200), nullable=False),
    Column("commune", String(100), nullable=False),
    Column("sex", String(20), nullable=False),
    Column("unidentified", Boolean, nullable=False),
    Column("born_from", Float),
    Column("born_to", Float),
    Column("block_keys", ARRAY(String(8)), nullable=False),
    Column("details", JSONB, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("version", BigInteger, nullable=False),
)
suggestions = Table(
    "intake_duplicate_suggestions",
    metadata,
    Column("child_id", String(64), primary_key=True),
    Column("candidate_id", String(64), primary_key=True),
    Column("score", Float, nullable=False),
    Column("reasons", ARRAY(String(20)), nullable=False),
    Column("status", String(20), nullable=False),
)
links = Table(
    "intake_child_links",
    metadata,
    Column("child_id", String(64), primary_key=True),
    Column("other_id", String(64), primary_key=True),
)
complaints = Table(
    "intake_complaints",
    metadata,
    Column("complaint_id", String(64), primary_key=True),
    Column("about_user", String(200), nullable=False),
    Column("about_agency", String(200), nullable=False),
    Column("filed_at", DateTime(timezone=True), nullable=False),
    Column("document", JSONB, nullable=False),
)

projection = Projection(name="intake.main", version=1, metadata=metadata)


@projection.on("intake", "ReportRegistered")
async def _registered(conn: AsyncConnection, e: RecordedEvent) -> None:
    ev = e.event
    assert isinstance(ev, ReportRegistered)
    received = parse_time(ev.received_at)
    await conn.execute(
        insert(reports)
        .values(
            report_id=ev.report_id,
            agency=ev.agency,
            unit=ev.unit,
            channel=ev.channel,
            received_at=received,
            commune=ev.commune,
            concerns=ev.concerns,
            status="received",
            urgency=ev.urgency,
            deadline=deadline_for(received, ev.urgency),
            overdue=False,
            immediate_danger=ev.immediate_danger,
            children_count=len(ev.children),
            document={**ev.model_dump(mode="json"), "registered_at": e.time},
            version=e.seq,
        )
        .on_conflict_do_nothing()
    )


async def _document(conn: AsyncConnection, report_id: str) -> dict[str, Any]:
    row = (
        await conn.execute(select(reports.c.document).where(reports.c.report_id == report_id))
    ).one()
    return dict(row.document)


@projection.on("intake", "ReportScreened")
async def _screened(conn: AsyncConnection, e: RecordedEvent) -> None:
    ev = e.event
    assert isinstance(ev, ReportScreened)
    doc = await _document(conn, ev.report_id)
    doc["screening"] = {**ev.model_dump(mode="json"), "by": e.actor.model_dump()}
    await conn.execute(
        update(reports)
        .where(reports.c.report_id == ev.report_id)
        .values(
            status=ev.decision,
            urgency=ev.urgency,
            deadline=parse_time(ev.deadline),
            screened_at=parse_time(ev.screened_at),
            within_deadline=ev.within_deadline,
            document=doc,
            version=e.seq,
        )
    )


@projection.on("intake", "ReportAccepted")
async def _accepted(conn: AsyncConnection, e: RecordedEvent) -> None:
    await conn.execute(
        update(reports).where(reports.c.report_id == e.aggregate.id).values(version=e.seq)
    )


@projection.on("intake", "ReportAmended")
async def _amended(conn: AsyncConnection, e: RecordedEvent) -> None:
    ev = e.event
    assert isinstance(ev, ReportAmended)
    doc = await _document(conn, ev.report_id)
    doc.update(ev.changes)
    doc.setdefault("amendments", []).append(
        {"fields": ev.fields, "reason": ev.reason, "at": e.time, "by": e.actor.model_dump()}
    )
    values: dict[str, Any] = {"document": doc, "version": e.seq}
    for key in ("channel", "commune", "concerns", "immediate_danger"):
        if key in ev.changes:
            values[key] = ev.changes[key]
    if "received_at" in ev.changes or "urgency" in ev.changes:
        urgency = doc.get("screening", {}).get("urgency") or doc["urgency"]
        values["received_at"] = parse_time(doc["received_at"])
        values["deadline"] = deadline_for(values["received_at"], urgency)
        if "screening" not in doc:
            values["urgency"] = urgency
    await conn.execute(update(reports).where(reports.c.report_id == ev.report_id).values(**values))


@projection.on("intake", "ScreeningOverdue")
async def _overdue(conn: AsyncConnection, e: RecordedEvent) -> None:
    ev = e.event
    assert isinstance(ev, ScreeningOverdue)
    await conn.execute(
        update(reports)
        .where(reports.c.report_id == ev.report_id)
        .values(overdue=True, version=e.seq)
    )


@projection.on("intake", "ChildRecorded")
async def _child(conn: AsyncConnection, e: RecordedEvent) -> None:
    ev = e.event
    assert isinstance(ev, ChildRecorded)
    d = ev.details
    received = parse_time(ev.received_at).date()
    known = age_range(d, received)
    born = matching.birth_window(
        received,
        date.fromisoformat(d.date_of_birth) if d.date_of_birth else None,
        known[0] if known else None,
        known[1] if known else None,
    )
    await conn.execute(
        insert(children)
        .values(
            child_id=ev.child_id,
            report_id=ev.report_id,
            agency=ev.agency,
            commune=ev.commune,
            sex=d.sex,
            unidentified=d.unidentified or not (d.name or d.alias),
            born_from=born[0] if born else None,
            born_to=born[1] if born else None,
            block_keys=matching.blocking_keys(d.name, d.alias),
            details=d.model_dump(mode="json"),
            received_at=parse_time(ev.received_at),
            version=e.seq,
        )
        .on_conflict_do_nothing()
    )


@projection.on("intake", "DuplicateSuggested")
async def _suggested(conn: AsyncConnection, e: RecordedEvent) -> None:
    ev = e.event
    assert isinstance(ev, DuplicateSuggested)
    await conn.execute(
        insert(suggestions)
        .values(
            child_id=ev.child_id,
            candidate_id=ev.candidate_id,
            score=ev.score,
            reasons=ev.reasons,
            status="pending",
        )
        .on_conflict_do_nothing()
    )
    await _child_version(conn, ev.child_id, e.seq)


async def _child_version(conn: AsyncConnection, child_id: str, seq: int) -> None:
    await conn.execute(update(children).where(children.c.child_id == child_id).values(version=seq))


async def _resolve(conn: AsyncConnection, e: RecordedEvent, status: str) -> None:
    ev = e.event
    assert isinstance(ev, DuplicateConfirmed | DuplicateRejected)
    await conn.execute(
        update(suggestions)
        .where(suggestions.c.child_id == ev.child_id)
        .where(suggestions.c.candidate_id == ev.candidate_id)
        .values(status=status)
    )
    if status == "confirmed":  # a link both ways; both records and histories stay
        await conn.execute(
            insert(links)
            .values(
                [
                    {"child_id": ev.child_id, "other_id": ev.candidate_id},
                    {"child_id": ev.candidate_id, "other_id": ev.child_id},
                ]
            )
            .on_conflict_do_nothing()
        )
    await _child_version(conn, ev.child_id, e.seq)


@projection.on("intake", "DuplicateConfirmed")
async def _confirmed(conn: AsyncConnection, e: RecordedEvent) -> None:
    await _resolve(conn, e, "confirmed")


@projection.on("intake", "DuplicateRejected")
async def _rejected(conn: AsyncConnection, e: RecordedEvent) -> None:
    await _resolve(conn, e, "rejected")


@projection.on("intake", "ComplaintFiled")
async def _complaint(conn: AsyncConnection, e: RecordedEvent) -> None:
    ev = e.event
    assert isinstance(ev, ComplaintFiled)
    await conn.execute(
        insert(complaints)
        .values(
            complaint_id=ev.complaint_id,
            about_user=ev.about_user,
            about_agency=ev.about_agency,
            filed_at=parse_time(e.time),
            document={**ev.model_dump(mode="json"), "filed_at": e.time},
        )
        .on_conflict_do_nothing()
    )
