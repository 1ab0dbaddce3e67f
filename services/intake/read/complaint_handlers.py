"""What complaint events do to ``intake_complaints``: its status, and a document keeping
who acknowledged and resolved it, when."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.intake import ComplaintAcknowledged, ComplaintFiled, ComplaintResolved
from services.intake.domain import parse_time
from services.intake.read.tables import complaints, projection
from shared.recorded import RecordedEvent


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
            status="filed",
            document={**ev.model_dump(mode="json"), "filed_at": e.time, "status": "filed"},
            version=e.seq,
        )
        .on_conflict_do_nothing()
    )


async def _complaint_step(
    conn: AsyncConnection, e: RecordedEvent, status: str, step: dict[str, Any]
) -> dict[str, Any]:
    row = (
        await conn.execute(
            select(complaints.c.document).where(complaints.c.complaint_id == e.aggregate.id)
        )
    ).one()
    doc = {**row.document, "status": status, status: {**step, "at": e.time}}
    doc[status]["by"] = e.actor.model_dump()
    return doc


@projection.on("intake", "ComplaintAcknowledged")
async def _acknowledged(conn: AsyncConnection, e: RecordedEvent) -> None:
    ev = e.event
    assert isinstance(ev, ComplaintAcknowledged)
    doc = await _complaint_step(conn, e, "acknowledged", {"note": ev.note})
    await conn.execute(
        update(complaints)
        .where(complaints.c.complaint_id == ev.complaint_id)
        .values(status="acknowledged", document=doc, version=e.seq)
    )


@projection.on("intake", "ComplaintResolved")
async def _resolved(conn: AsyncConnection, e: RecordedEvent) -> None:
    ev = e.event
    assert isinstance(ev, ComplaintResolved)
    doc = await _complaint_step(conn, e, "resolved", {"upheld": ev.upheld, "outcome": ev.outcome})
    await conn.execute(
        update(complaints)
        .where(complaints.c.complaint_id == ev.complaint_id)
        .values(status="resolved", upheld=ev.upheld, document=doc, version=e.seq)
    )
