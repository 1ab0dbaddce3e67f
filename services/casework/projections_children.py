"""The handler of casework's read model for corrections of the child's details sent to
intake. It registers on the one projection of ``projections.py``, which imports this module.

The values travel only in the event: intake owns the child's identity. The case keeps that a
correction was sent, which fields and when, so a reader sees it was done without learning
the child's name."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from services.casework import events as ev
from services.casework.projections import case_detail, projection, touch
from shared.recorded import RecordedEvent


@projection.on("casework", "ChildDetailsReported")
async def _child_details_reported(conn: AsyncConnection, e: RecordedEvent) -> None:
    reported = e.event
    assert isinstance(reported, ev.ChildDetailsReported)
    detail = await case_detail(conn, e.aggregate.id)
    sent = {"fields": sorted(reported.changes), "at": e.time}
    detail["child_corrections"] = [*detail.get("child_corrections", []), sent]
    await touch(conn, e, detail=detail)
