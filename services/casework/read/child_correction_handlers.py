"""Casework's read model of the corrections of the child's details sent to intake, and of
intake's answers to them (decision 0006). Its handlers register on the one projection of
``tables.py``; the package imports this module.

The values travel only in the request event: intake owns the child's identity. The case
keeps that a correction was sent, which fields and when, and what became of it (applied, or
refused with intake's reason), so a reader sees it was done without learning the child's
name.

The request is on casework's stream and the answer on intake's, applied by separate
projectors in no particular order (a rebuild replays both at once): each side upserts the
row of the request id, and the case shows a row only once its request is known, so either
order ends in the same view."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Column, DateTime, String, Table, Text, select
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts import casework as ev
from contracts.intake import ChildCorrectionRefused
from services.casework.read.child_names import name_corrected
from services.casework.read.tables import as_datetime, metadata, projection, touch
from shared.recorded import RecordedEvent

child_corrections = Table(
    "cw_child_corrections",
    metadata,
    Column("request_id", String(64), primary_key=True),  # casework's ChildDetailsReported
    # Null until the request is seen when intake's correction came first (it names no case).
    Column("case_id", String(64), index=True),
    Column("fields", JSONB),  # the names of the corrected fields, never their values
    Column("sent_at", DateTime(timezone=True)),
    Column("seq", BigInteger),  # the request's position: the case lists them in this order
    Column("status", String(20), nullable=False),  # sent, applied, refused
    Column("answered_at", DateTime(timezone=True)),
    Column("code", String(100)),
    Column("reason_en", Text),
    Column("reason_fr", Text),
)


@projection.on("casework", "ChildDetailsReported")
async def _child_details_reported(conn: AsyncConnection, e: RecordedEvent) -> None:
    reported = e.event
    assert isinstance(reported, ev.ChildDetailsReported)
    sent = {
        "case_id": e.aggregate.id,
        "fields": sorted(reported.changes),
        "sent_at": as_datetime(e.time),
        "seq": e.seq,
    }
    # Intake's answer may have been applied first: its status stays.
    await conn.execute(
        insert(child_corrections)
        .values(request_id=e.id, status="sent", **sent)
        .on_conflict_do_update(index_elements=[child_corrections.c.request_id], set_=sent)
    )
    await touch(conn, e)


async def _answered(conn: AsyncConnection, request_id: str, **answer: Any) -> None:
    # No touch of the case: its version counts casework's events only (clients send it back
    # in If-Match), and an answer changes nothing a worker could conflict with.
    await conn.execute(
        insert(child_corrections)
        .values(request_id=request_id, **answer)
        .on_conflict_do_update(index_elements=[child_corrections.c.request_id], set_=answer)
    )


@projection.on("intake", "ChildDetailsCorrected")
async def _child_details_corrected(conn: AsyncConnection, e: RecordedEvent) -> None:
    await name_corrected(conn, e)
    # Only intake's answers to casework name their request as the cause; an intake officer's
    # own correction has none and is not the case's business. (A cause that is no request of
    # casework's leaves a row no case ever shows.)
    request_id = e.envelope.get("causationid")
    if not request_id:
        return
    await _answered(
        conn,
        str(request_id),
        status="applied",
        answered_at=as_datetime(e.time),
        code=None,
        reason_en=None,
        reason_fr=None,
    )


@projection.on("intake", "ChildCorrectionRefused")
async def _child_correction_refused(conn: AsyncConnection, e: RecordedEvent) -> None:
    refused = e.event
    assert isinstance(refused, ChildCorrectionRefused)
    await _answered(
        conn,
        refused.request_id,
        status="refused",
        answered_at=as_datetime(e.time),
        code=refused.code,
        reason_en=refused.reason_en,
        reason_fr=refused.reason_fr,
    )


def _iso(value: datetime | None) -> str | None:
    # As the event's own time reads (RFC 3339, microseconds, Z).
    return value.isoformat(timespec="microseconds").replace("+00:00", "Z") if value else None


async def corrections_of(conn: AsyncConnection, case_id: str) -> list[dict[str, Any]]:
    """The corrections the case sent, oldest first, each with its outcome."""
    rows = await conn.execute(
        select(child_corrections)
        .where(child_corrections.c.case_id == case_id, child_corrections.c.sent_at.is_not(None))
        .order_by(child_corrections.c.seq, child_corrections.c.request_id)
    )
    return [
        {
            "request_id": r.request_id,
            "fields": r.fields,
            "at": _iso(r.sent_at),
            "status": r.status,
            "answered_at": _iso(r.answered_at),
            "code": r.code,
            "reason": {"en": r.reason_en, "fr": r.reason_fr} if r.status == "refused" else None,
        }
        for r in rows
    ]
