"""What report events do to ``intake_reports``: the lists, filters and overdue policies
read it, with the report document as it now reads."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.intake import (
    ReportAmended,
    ReportRegistered,
    ReportScreened,
    RescreeningOverdue,
    ScreeningOverdue,
)
from services.intake.domain import deadline_for, parse_time, rescreen_deadline
from services.intake.read.tables import projection, reports
from shared.recorded import RecordedEvent


def registered_row(e: RecordedEvent) -> dict[str, Any]:
    """The ``intake_reports`` row of a ``ReportRegistered`` (applied in batches with its
    children owed and the records that follow: :mod:`.registrations`)."""
    ev = e.event
    assert isinstance(ev, ReportRegistered)
    received = parse_time(ev.received_at)
    return {
        "report_id": ev.report_id,
        "agency": ev.agency,
        "unit": ev.unit,
        "channel": ev.channel,
        "received_at": received,
        "commune": ev.commune,
        "concerns": ev.concerns,
        "status": "received",
        "urgency": ev.urgency,
        "deadline": deadline_for(received, ev.urgency),
        "overdue": False,
        "immediate_danger": ev.immediate_danger,
        "children_count": len(ev.children),
        "document": {**ev.model_dump(mode="json"), "registered_at": e.time},
        "version": e.seq,
    }


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
    rescreen_by = None
    if ev.decision == "more_information":
        rescreen_by = (
            parse_time(ev.rescreen_by)
            if ev.rescreen_by
            else rescreen_deadline(parse_time(ev.screened_at), ev.urgency)
        )
    values: dict[str, Any] = {}
    if rescreen_by is not None:
        values["rescreen_overdue"] = False  # a new deadline, not yet passed
    # Otherwise a re-screen flagged late stays flagged, as ``overdue`` does: it was late.
    await conn.execute(
        update(reports)
        .where(reports.c.report_id == ev.report_id)
        .values(
            status=ev.decision,
            urgency=ev.urgency,
            deadline=parse_time(ev.deadline),
            screened_at=parse_time(ev.screened_at),
            within_deadline=ev.within_deadline,
            rescreen_by=rescreen_by,
            document=doc,
            version=e.seq,
            **values,
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


@projection.on("intake", "RescreeningOverdue")
async def _rescreen_overdue(conn: AsyncConnection, e: RecordedEvent) -> None:
    ev = e.event
    assert isinstance(ev, RescreeningOverdue)
    await conn.execute(
        update(reports)
        .where(reports.c.report_id == ev.report_id)
        .values(rescreen_overdue=True, version=e.seq)
    )
