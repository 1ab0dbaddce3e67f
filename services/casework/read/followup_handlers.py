"""The handlers of casework's read model for what follows the plan, as in
``web/followup.py``: services delivered, follow-up visits, notes, and transfers between
agencies. They register on the one projection of ``tables.py``; the package imports this
module."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts import casework as ev
from services.casework.read.tables import (
    append_detail,
    as_datetime,
    case_detail,
    notes,
    projection,
    touch,
    transfers,
)
from shared.recorded import RecordedEvent


def missed_from(due_on: str | None) -> datetime | None:
    """A visit due on a day is missed from the start of the next day (UTC)."""
    if due_on is None:
        return None
    return datetime.combine(date.fromisoformat(due_on) + timedelta(days=1), time(), tzinfo=UTC)


# -- services, visits, notes ---------------------------------------------------------------


@projection.on("casework", "ServiceDelivered")
async def _service(conn: AsyncConnection, e: RecordedEvent) -> None:
    await append_detail(conn, e, "services", e.event.model_dump(mode="json"))


@projection.on("casework", "FollowUpVisitRecorded")
async def _visit(conn: AsyncConnection, e: RecordedEvent) -> None:
    v = e.event
    assert isinstance(v, ev.FollowUpVisitRecorded)
    values: dict[str, Any] = {
        "next_visit_due": v.next_visit_due,
        "visit_due_at": missed_from(v.next_visit_due),
        "visit_overdue_flagged": False,
    }
    if v.risk_level:
        values["risk_level"] = v.risk_level
    await append_detail(conn, e, "visits", v.model_dump(mode="json"), **values)


@projection.on("casework", "FollowUpVisitOverdue")
async def _visit_overdue(conn: AsyncConnection, e: RecordedEvent) -> None:
    await touch(conn, e, visit_overdue_flagged=True)


@projection.on("casework", "CaseNoteAdded")
async def _note(conn: AsyncConnection, e: RecordedEvent) -> None:
    n = e.event
    assert isinstance(n, ev.CaseNoteAdded)
    await conn.execute(
        insert(notes)
        .values(
            note_id=n.note_id,
            case_id=e.aggregate.id,
            sensitivity=n.sensitivity,
            text=n.text,
            author=e.actor.user,
            author_agency=e.actor.agency,
            written_at=as_datetime(e.time),
            seq=e.seq,
        )
        .on_conflict_do_nothing()
    )
    await touch(conn, e)


# -- transfers -----------------------------------------------------------------------------


async def _transfer_detail(conn: AsyncConnection, e: RecordedEvent, **changes: Any) -> None:
    """Record the answer on the transfer's entry of the case's history."""
    transfer_id = getattr(e.event, "transfer_id")  # noqa: B009
    detail = await case_detail(conn, e.aggregate.id)
    detail["transfers"] = [
        {**t, **changes, "answered_at": e.time, "answered_by": e.actor.user}
        if t["transfer_id"] == transfer_id
        else t
        for t in detail.get("transfers", [])
    ]
    await conn.execute(
        update(transfers)
        .where(transfers.c.transfer_id == transfer_id)
        .values(status=changes["status"], answered_at=as_datetime(e.time))
    )
    await touch(conn, e, detail=detail)


@projection.on("casework", "TransferRequested")
async def _transfer_requested(conn: AsyncConnection, e: RecordedEvent) -> None:
    t = e.event
    assert isinstance(t, ev.TransferRequested)
    await conn.execute(
        insert(transfers)
        .values(
            transfer_id=t.transfer_id,
            case_id=e.aggregate.id,
            from_agency=t.from_agency,
            to_agency=t.to_agency,
            to_unit=t.to_unit,
            status="pending",
            requested_at=as_datetime(e.time),
        )
        .on_conflict_do_nothing()
    )
    await append_detail(conn, e, "transfers", {**t.model_dump(mode="json"), "status": "pending"})


@projection.on("casework", "TransferAccepted")
async def _transfer_accepted(conn: AsyncConnection, e: RecordedEvent) -> None:
    t = e.event
    assert isinstance(t, ev.TransferAccepted)
    await _transfer_detail(conn, e, status="accepted")
    await touch(
        conn,
        e,
        agency=t.to_agency,
        unit=t.to_unit,
        worker_id=None,
        supervisor_id=None,
        competency_override=False,
        owner_since=as_datetime(e.time),
    )


@projection.on("casework", "TransferDeclined")
async def _transfer_declined(conn: AsyncConnection, e: RecordedEvent) -> None:
    t = e.event
    assert isinstance(t, ev.TransferDeclined)
    await _transfer_detail(conn, e, status="declined", decline_reason=t.reason)


@projection.on("casework", "TransferWithdrawn")
async def _transfer_withdrawn(conn: AsyncConnection, e: RecordedEvent) -> None:
    t = e.event
    assert isinstance(t, ev.TransferWithdrawn)
    await _transfer_detail(conn, e, status="withdrawn", withdraw_reason=t.reason)
