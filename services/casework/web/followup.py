"""Commands beyond the workflow stages: opening a case directly for a child a worker found,
services delivered, follow-up visits, notes, and transfers between agencies.

The same conventions as ``cases.py``: ``If-Match`` names the version the client saw,
``Idempotency-Key`` makes a retry store nothing new."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select

from services.casework import domain as d
from services.casework.app.policies import case_aggregate
from services.casework.config import load_rules
from services.casework.read.directory import units_of
from services.casework.read.tables import referrals
from services.casework.web.cases import (
    CaseId,
    actor_of,
    execute,
    new_child_id,
)
from services.casework.web.permissions import require
from services.casework.web.schemas import (
    AcceptTransferBody,
    NoteBody,
    OpenBody,
    ReasonBody,
    ServiceBody,
    TransferBody,
    VisitBody,
)
from shared.access import sees_agency
from shared.auth import Principal
from shared.http import idempotency_key
from shared.ids import derived_id, new_id
from shared.service import Runtime

router = APIRouter(prefix="/cases", tags=["cases"])

TransferId = Annotated[str, Path(pattern=r"^[A-Za-z0-9-]{1,64}$")]


@router.post("", status_code=201)
async def open_directly(
    body: OpenBody,
    request: Request,
    principal: Annotated[Principal, Depends(require("case.open"))],
) -> JSONResponse:
    """Open a case for a child the caller's agency found (no intake report first). The
    child's description goes to intake as ``ChildIdentified``, which creates the child
    record; this service keeps only the child's id, sex and age band."""
    runtime: Runtime = request.app.state.runtime
    key = idempotency_key(request)
    # A retry must name the same case and child, so both ids come from the caller's key.
    if key:
        case_id = derived_id("casework.direct", principal.user, key, "case")
        child_id = derived_id("casework.direct", principal.user, key, "child")
    else:
        case_id, child_id = new_id(), new_id()
    command = d.OpenDirectly(
        case_id=case_id,
        child_id=child_id,
        child=body.child.identified(),
        agency=principal.agency,
        unit=body.unit or principal.unit,
        commune=body.commune,
        concerns=tuple(body.concerns),
        urgency=body.urgency,
        immediate_danger=body.immediate_danger,
        found_at=body.found_at,
        initial_risk=body.initial_risk,
    )
    events = d.decide(d.CaseState(), command, load_rules())
    result = await runtime.commit(
        case_aggregate(runtime, case_id),
        0,
        events,
        actor=actor_of(principal),
        idempotency_key=key,
    )
    answer = {
        "case_id": case_id,
        "child_id": child_id,
        "version": result.head.seq,
        "events": [r.event.name for r in result.events],
        "duplicate": result.duplicate,
    }
    return JSONResponse(answer, status_code=201, headers={"ETag": f'"{result.head.seq}"'})


@router.post("/{case_id}/services")
async def deliver_service(
    case_id: CaseId,
    body: ServiceBody,
    request: Request,
    principal: Annotated[Principal, Depends(require("case.services"))],
) -> JSONResponse:
    """Record a service delivered to the child, by this agency or through a plan action or
    referral (the service then counts for the agency that delivered it)."""
    runtime: Runtime = request.app.state.runtime
    assert runtime.engine is not None
    async with runtime.engine.connect() as conn:
        rows = await conn.execute(
            select(referrals.c.referral_id, referrals.c.to_agency, referrals.c.to_unit).where(
                referrals.c.case_id == case_id
            )
        )
        known = {r.referral_id: (r.to_agency, r.to_unit) for r in rows}
    command = d.DeliverService(
        service_id=new_child_id(request, case_id, "service"),
        service_kind=body.service_kind,
        delivered_on=body.delivered_on,
        unit=principal.unit,
        action_id=body.action_id,
        referral_id=body.referral_id,
        note=body.note,
        known_referrals=known,
    )
    return await execute(request, principal, case_id, command)


@router.post("/{case_id}/visits")
async def record_visit(
    case_id: CaseId,
    body: VisitBody,
    request: Request,
    principal: Annotated[Principal, Depends(require("case.visit"))],
) -> JSONResponse:
    """Record a follow-up visit; a risk reassessment updates the case's risk, and
    ``next_visit_due`` is watched: a visit missed by that day is flagged to supervisors."""
    command = d.RecordVisit(
        visit_id=new_child_id(request, case_id, "visit"),
        visited_on=body.visited_on,
        child_seen=body.child_seen,
        risk_level=body.risk_level,
        findings=body.findings,
        next_visit_due=body.next_visit_due,
    )
    return await execute(request, principal, case_id, command)


@router.post("/{case_id}/notes")
async def add_note(
    case_id: CaseId,
    body: NoteBody,
    request: Request,
    principal: Annotated[Principal, Depends(require("case.note"))],
) -> JSONResponse:
    """Add a note: ``normal`` (every reader of the case), ``restricted`` (the assigned
    worker, supervisors, the author) or ``confidential`` (the case's supervisor and the
    author). Auditors read all."""
    command = d.AddNote(
        note_id=new_child_id(request, case_id, "note"),
        sensitivity=body.sensitivity,
        text=body.text,
    )
    return await execute(request, principal, case_id, command)


@router.post("/{case_id}/transfers")
async def request_transfer(
    case_id: CaseId,
    body: TransferBody,
    request: Request,
    principal: Annotated[Principal, Depends(require("case.transfer"))],
) -> JSONResponse:
    """Ask another agency to take over the case; it keeps its owner until they accept."""
    runtime: Runtime = request.app.state.runtime
    assert runtime.engine is not None
    async with runtime.engine.connect() as conn:
        known_units = await units_of(conn, body.to_agency)
    command = d.RequestTransfer(
        transfer_id=new_child_id(request, case_id, "transfer"),
        to_agency=body.to_agency,
        to_unit=body.to_unit,
        reason=body.reason,
        to_agency_units=known_units,
    )
    return await execute(request, principal, case_id, command)


def _answerable(principal: Principal, transfer_id: str) -> Callable[[d.CaseState], bool]:
    """The owning agency, or the agency a transfer of this id was addressed to: the case
    was shown to it, so it may hear that the transfer is answered already."""

    def check(state: d.CaseState) -> bool:
        target = state.transfer_targets.get(transfer_id)
        return sees_agency(principal, state.agency) or target == principal.agency

    return check


@router.post("/{case_id}/transfers/{transfer_id}/accept")
async def accept_transfer(
    case_id: CaseId,
    transfer_id: TransferId,
    body: AcceptTransferBody,
    request: Request,
    principal: Annotated[Principal, Depends(require("transfer.answer"))],
) -> JSONResponse:
    """The receiving agency takes the case over: it must then assign its own worker."""
    command = d.AnswerTransfer(
        transfer_id=transfer_id, accept=True, by=principal.user, by_agency=principal.agency
    )
    return await execute(
        request, principal, case_id, command, may_act=_answerable(principal, transfer_id)
    )


@router.post("/{case_id}/transfers/{transfer_id}/decline")
async def decline_transfer(
    case_id: CaseId,
    transfer_id: TransferId,
    body: ReasonBody,
    request: Request,
    principal: Annotated[Principal, Depends(require("transfer.answer"))],
) -> JSONResponse:
    command = d.AnswerTransfer(
        transfer_id=transfer_id,
        accept=False,
        by=principal.user,
        by_agency=principal.agency,
        reason=body.reason,
    )
    return await execute(
        request, principal, case_id, command, may_act=_answerable(principal, transfer_id)
    )


@router.post("/{case_id}/transfers/{transfer_id}/withdrawal")
async def withdraw_transfer(
    case_id: CaseId,
    transfer_id: TransferId,
    body: ReasonBody,
    request: Request,
    principal: Annotated[Principal, Depends(require("case.transfer"))],
) -> JSONResponse:
    """The owning agency withdraws a transfer still awaiting an answer."""
    command = d.WithdrawTransfer(transfer_id=transfer_id, reason=body.reason)
    return await execute(request, principal, case_id, command)
