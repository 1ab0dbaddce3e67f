"""Complaints (recourse): filed by anyone who hears one, followed up by the oversight body
(acknowledged, then resolved), and never shown to the actor they are about."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from sqlalchemy import select

from contracts.intake import ComplaintFiled
from services.intake.app import complaints as complaint_commands
from services.intake.domain import (
    AcknowledgeComplaint,
    ComplaintCommand,
    ResolveComplaint,
)
from services.intake.read import complaints
from services.intake.web.common import ID_PATTERN, not_found, runtime_of
from services.intake.web.permissions import permissions
from services.intake.web.schemas import (
    AcknowledgementIn,
    ComplaintIn,
    ComplaintOut,
    ComplaintOutcomeIn,
    ComplaintPageOut,
    ComplaintReceiptOut,
    ComplaintStepOut,
    ComplaintTrackingIn,
    ComplaintTrackOut,
)
from shared.auth import Principal
from shared.command_http import actor_of, command_key, new_aggregate_id, seen, tag
from shared.http import ApiError
from shared.i18n import Message
from shared.pagination import fetch_page

router = APIRouter(prefix="/complaints", tags=["complaints"])
ComplaintId = Annotated[str, Path(pattern=ID_PATTERN)]
Status = Literal["filed", "acknowledged", "resolved"]
UNKNOWN_CODE = Message(
    en="No complaint has this tracking code. Check the code as it was given to you.",
    fr="Aucune plainte ne porte ce code de suivi. Vérifiez le code tel qu'il vous a été donné.",
)


def tracking_hash(code: str) -> str:
    """The tracking code has 80 random bits: its plain SHA-256 is enough to find it and
    tells nothing of the code."""
    return hashlib.sha256(code.encode()).hexdigest()


@router.post("", status_code=201)
async def file_complaint(
    body: ComplaintIn,
    request: Request,
    response: Response,
    principal: Annotated[Principal, Depends(permissions.require("complaint.file"))],
) -> ComplaintReceiptOut:
    """The filer gets a receipt, not the complaint: only the oversight body reads those."""
    key = command_key(request, principal)
    event = ComplaintFiled(
        complaint_id=new_aggregate_id(key, "intake.complaint"),
        about_user=body.about_user,
        about_agency=body.about_agency,
        child_id=body.child_id,
        complainant=body.complainant,
        account=body.account,
        filed_by_agency=principal.agency,
        tracking_hash=tracking_hash(body.tracking_code) if body.tracking_code else None,
    )
    outcome = await complaint_commands.file(
        runtime_of(request), event, actor=actor_of(principal), key=key
    )
    tag(response, outcome.version)
    return ComplaintReceiptOut(complaint_id=event.complaint_id, version=outcome.version)


def _view(row: Any) -> ComplaintOut:
    document = {k: v for k, v in dict(row.document).items() if k != "tracking_hash"}
    return ComplaintOut(**{**document, "status": row.status, "version": row.version})


@router.post("/tracking", responses={404: {"description": "No complaint has this tracking code"}})
async def track_complaint(
    body: ComplaintTrackingIn,
    request: Request,
    principal: Annotated[Principal, Depends(permissions.require("complaint.track"))],
) -> ComplaintTrackOut:
    """The public complaint desk's look-up: a complaint's status by its tracking code (sent
    in the body, never in a URL a proxy would log), and nothing else."""
    rt = runtime_of(request)
    assert rt.engine is not None
    wanted = tracking_hash(body.tracking_code)
    async with rt.engine.connect() as conn:
        row = (
            await conn.execute(
                select(complaints.c.status, complaints.c.document).where(
                    complaints.c.document["tracking_hash"].astext == wanted
                )
            )
        ).first()
    if row is None:
        raise ApiError(404, "not_found", UNKNOWN_CODE, field="tracking_code")
    doc = dict(row.document)

    def at(step: str) -> str | None:
        found = doc.get(step)
        return str(found["at"]) if isinstance(found, dict) and found.get("at") else None

    return ComplaintTrackOut(
        status=row.status,
        filed_at=str(doc.get("filed_at") or ""),
        acknowledged_at=at("acknowledged"),
        resolved_at=at("resolved"),
    )


@router.get("")
async def list_complaints(
    request: Request,
    principal: Annotated[Principal, Depends(permissions.require("complaint.list"))],
    status: Status | None = None,
    page: int = Query(default=1, ge=1, le=100_000),
    page_size: int = Query(default=50, ge=1, le=200),
) -> ComplaintPageOut:
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
        principal, "complaint", [i.complaint_id for i in items], purpose="intake.complaint.list"
    )
    return ComplaintPageOut(
        items=items, page=page, page_size=page_size, total=total, now=rt.clock().isoformat()
    )


@router.get("/{complaint_id}")
async def read_complaint(
    complaint_id: ComplaintId,
    request: Request,
    response: Response,
    principal: Annotated[Principal, Depends(permissions.require("complaint.list"))],
) -> ComplaintOut:
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
    tag(response, row.version)
    return _view(row)


async def _follow_up(
    request: Request,
    response: Response,
    principal: Principal,
    complaint_id: str,
    command: ComplaintCommand,
) -> ComplaintStepOut:
    expect = seen(request)
    outcome = await complaint_commands.follow_up(
        runtime_of(request),
        complaint_id,
        command,
        expect=expect,
        actor=actor_of(principal),
        key=command_key(request, principal),
    )
    step = "acknowledged" if isinstance(command, AcknowledgeComplaint) else "resolved"
    tag(response, outcome.version)
    return ComplaintStepOut(complaint_id=complaint_id, status=step, version=outcome.version)


@router.post("/{complaint_id}/acknowledgement")
async def acknowledge_complaint(
    complaint_id: ComplaintId,
    request: Request,
    response: Response,
    principal: Annotated[Principal, Depends(permissions.require("complaint.handle"))],
    body: AcknowledgementIn | None = None,
) -> ComplaintStepOut:
    command = AcknowledgeComplaint(by_user=principal.user, note=body.note if body else None)
    return await _follow_up(request, response, principal, complaint_id, command)


@router.post("/{complaint_id}/resolution")
async def resolve_complaint(
    complaint_id: ComplaintId,
    body: ComplaintOutcomeIn,
    request: Request,
    response: Response,
    principal: Annotated[Principal, Depends(permissions.require("complaint.handle"))],
) -> ComplaintStepOut:
    command = ResolveComplaint(by_user=principal.user, upheld=body.upheld, outcome=body.outcome)
    return await _follow_up(request, response, principal, complaint_id, command)
