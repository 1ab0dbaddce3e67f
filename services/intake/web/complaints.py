"""Complaints (recourse): filed by anyone who hears one, followed up by the oversight body
(acknowledged, then resolved), and never shown to the actor they are about."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from sqlalchemy import select

from contracts.intake import ComplaintFiled
from services.intake.app.aggregates import actor_of, aggregate, load
from services.intake.domain import (
    AcknowledgeComplaint,
    ComplaintCommand,
    ComplaintState,
    FileComplaint,
    ResolveComplaint,
    complaint_state,
    decide_complaint,
)
from services.intake.read import complaints
from services.intake.web.common import ID_PATTERN, not_found, runtime_of
from services.intake.web.permissions import permissions
from services.intake.web.schemas import AcknowledgementIn, ComplaintIn, ComplaintOutcomeIn
from shared.auth import Principal
from shared.http import idempotency_key
from shared.ids import derived_id, new_id
from shared.pagination import fetch_page

router = APIRouter(prefix="/complaints", tags=["complaints"])
ComplaintId = Annotated[str, Path(pattern=ID_PATTERN)]
Status = Literal["filed", "acknowledged", "resolved"]


@router.post("", status_code=201)
async def file_complaint(
    body: ComplaintIn,
    request: Request,
    principal: Annotated[Principal, Depends(permissions.require("complaint.file"))],
) -> dict[str, Any]:
    rt = runtime_of(request)
    key = idempotency_key(request)
    complaint_id = derived_id("intake.complaint", principal.agency, key) if key else new_id()
    events = decide_complaint(
        ComplaintState(),
        FileComplaint(
            ComplaintFiled(
                complaint_id=complaint_id,
                about_user=body.about_user,
                about_agency=body.about_agency,
                child_id=body.child_id,
                complainant=body.complainant,
                account=body.account,
                filed_by_agency=principal.agency,
            )
        ),
    )
    agg = aggregate(rt, "complaint", complaint_id)
    result = await rt.commit(agg, 0, events, actor=actor_of(principal), idempotency_key=key)
    # The filer gets a receipt, not the complaint list: only the oversight role reads those.
    return {"complaint_id": complaint_id, "version": result.head.seq}


def _view(row: Any) -> dict[str, Any]:
    return {**dict(row.document), "status": row.status, "version": row.version}


@router.get("")
async def list_complaints(
    request: Request,
    principal: Annotated[Principal, Depends(permissions.require("complaint.list"))],
    status: Status | None = None,
    page: int = Query(default=1, ge=1, le=100_000),
    page_size: int = Query(default=50, ge=1, le=200),
) -> dict[str, Any]:
    rt = runtime_of(request)
    assert rt.engine is not None and rt.access_log is not None
    query = select(complaints).where(complaints.c.about_user != principal.user)  # never theirs
    if status:
        query = query.where(complaints.c.status == status)
    rows, total = await fetch_page(
        rt.engine,
        query,
        complaints.c.filed_at.desc(),
        complaints.c.complaint_id,
        offset=(page - 1) * page_size,
        limit=page_size,
    )
    items = [_view(r) for r in rows]
    await rt.access_log.record(
        principal, "complaint", [i["complaint_id"] for i in items], purpose="intake.complaint.list"
    )
    return {
        "items": items,
        "page": page,
        "page_size": page_size,
        "total": total,
        "now": datetime.now(UTC).isoformat(),
    }


@router.get("/{complaint_id}")
async def read_complaint(
    complaint_id: ComplaintId,
    request: Request,
    principal: Annotated[Principal, Depends(permissions.require("complaint.list"))],
) -> dict[str, Any]:
    rt = runtime_of(request)
    assert rt.engine is not None and rt.access_log is not None
    async with rt.engine.connect() as conn:
        row = (
            await conn.execute(select(complaints).where(complaints.c.complaint_id == complaint_id))
        ).first()
    if row is None or row.about_user == principal.user:
        raise not_found()
    await rt.access_log.record(
        principal, "complaint", [complaint_id], purpose="intake.complaint.read"
    )
    return _view(row)


async def _follow_up(
    request: Request,
    principal: Principal,
    complaint_id: str,
    command: ComplaintCommand,
    version: int | None,
) -> dict[str, Any]:
    rt = runtime_of(request)
    agg = aggregate(rt, "complaint", complaint_id)
    state, current = await load(rt, agg, complaint_state)
    events = decide_complaint(state, command)
    result = await rt.commit(
        agg,
        version if version is not None else current,
        events,
        actor=actor_of(principal),
        idempotency_key=idempotency_key(request),
    )
    step = "acknowledged" if isinstance(command, AcknowledgeComplaint) else "resolved"
    return {"complaint_id": complaint_id, "status": step, "version": result.head.seq}


@router.post("/{complaint_id}/acknowledgement")
async def acknowledge_complaint(
    complaint_id: ComplaintId,
    request: Request,
    principal: Annotated[Principal, Depends(permissions.require("complaint.handle"))],
    body: AcknowledgementIn | None = None,
) -> dict[str, Any]:
    command = AcknowledgeComplaint(by_user=principal.user, note=body.note if body else None)
    return await _follow_up(
        request, principal, complaint_id, command, body.version if body else None
    )


@router.post("/{complaint_id}/resolution")
async def resolve_complaint(
    complaint_id: ComplaintId,
    body: ComplaintOutcomeIn,
    request: Request,
    principal: Annotated[Principal, Depends(permissions.require("complaint.handle"))],
) -> dict[str, Any]:
    command = ResolveComplaint(by_user=principal.user, upheld=body.upheld, outcome=body.outcome)
    return await _follow_up(request, principal, complaint_id, command, body.version)
