"""Commands beyond the workflow stages: opening a case directly for a child a worker found,
services delivered, follow-up visits, notes, and transfers between agencies.

The same conventions as ``cases.py``: ``If-Match`` names the version the client saw,
``Idempotency-Key`` makes a retry store nothing new."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from services.casework import domain as d
from services.casework.app import cases
from services.casework.app.site_transfer import known_sites
from services.casework.read.directory import units_of
from services.casework.read.tables import referrals
from services.casework.web.cases import (
    CaseCommandOut,
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
    SiteTransferBody,
    TransferBody,
    VisitBody,
)
from shared.access import sees_agency
from shared.auth import Principal
from shared.command_http import command_key, new_aggregate_id, tag
from shared.commands import Expect
from shared.service import Runtime

router = APIRouter(prefix="/cases", tags=["cases"])
sites_router = APIRouter(prefix="/sites", tags=["cases"])

TransferId = Annotated[str, Path(pattern=r"^[A-Za-z0-9-]{1,64}$")]


class OpenedOut(BaseModel):
    case_id: str
    child_id: str = Field(description="The child record intake creates under this id")
    version: int
    events: list[str]
    duplicate: bool = False


@router.post("", status_code=201)
async def open_directly(
    body: OpenBody,
    request: Request,
    response: Response,
    principal: Annotated[Principal, Depends(require("case.open"))],
) -> OpenedOut:
    """Open a case for a child the caller's agency found (no intake report first). The
    child's description goes to intake as ``ChildIdentified``, which creates the child
    record; this service keeps only the child's id, sex and age band."""
    key = command_key(request, principal)
    # A retry must name the same case and child, so both ids come from the caller's key.
    case_id = new_aggregate_id(key, "casework.direct", "case")
    child_id = new_aggregate_id(key, "casework.direct", "child")
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
    outcome = await cases.run(
        request.app.state.runtime,
        case_id,
        command,
        expect=Expect.new(),
        actor=actor_of(principal),
        key=key,
    )
    tag(response, outcome.version)
    return OpenedOut(
        case_id=case_id,
        child_id=child_id,
        version=outcome.version,
        events=[r.event.name for r in outcome.events],
        duplicate=outcome.duplicate,
    )


@router.post("/{case_id}/services")
async def deliver_service(
    case_id: CaseId,
    body: ServiceBody,
    request: Request,
    response: Response,
    principal: Annotated[Principal, Depends(require("case.services"))],
) -> CaseCommandOut:
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
        service_id=new_child_id(request, principal, case_id, "service"),
        service_kind=body.service_kind,
        delivered_on=body.delivered_on,
        unit=principal.unit,
        action_id=body.action_id,
        referral_id=body.referral_id,
        note=body.note,
        known_referrals=known,
    )
    return await execute(request, response, principal, case_id, command)


@router.post("/{case_id}/visits")
async def record_visit(
    case_id: CaseId,
    body: VisitBody,
    request: Request,
    response: Response,
    principal: Annotated[Principal, Depends(require("case.visit"))],
) -> CaseCommandOut:
    """Record a follow-up visit; a risk reassessment updates the case's risk, and
    ``next_visit_due`` is watched: a visit missed by that day is flagged to supervisors."""
    command = d.RecordVisit(
        visit_id=new_child_id(request, principal, case_id, "visit"),
        visited_on=body.visited_on,
        child_seen=body.child_seen,
        risk_level=body.risk_level,
        findings=body.findings,
        next_visit_due=body.next_visit_due,
    )
    return await execute(request, response, principal, case_id, command)


@router.post("/{case_id}/notes")
async def add_note(
    case_id: CaseId,
    body: NoteBody,
    request: Request,
    response: Response,
    principal: Annotated[Principal, Depends(require("case.note"))],
) -> CaseCommandOut:
    """Add a note: ``normal`` (every reader of the case), ``restricted`` (the assigned
    worker, supervisors, the author) or ``confidential`` (the case's supervisor and the
    author). Auditors read all."""
    command = d.AddNote(
        note_id=new_child_id(request, principal, case_id, "note"),
        sensitivity=body.sensitivity,
        text=body.text,
    )
    return await execute(request, response, principal, case_id, command)


@router.post("/{case_id}/transfers")
async def request_transfer(
    case_id: CaseId,
    body: TransferBody,
    request: Request,
    response: Response,
    principal: Annotated[Principal, Depends(require("case.transfer"))],
) -> CaseCommandOut:
    """Ask another agency to take over the case; it keeps its owner until they accept."""
    runtime: Runtime = request.app.state.runtime
    assert runtime.engine is not None
    async with runtime.engine.connect() as conn:
        known_units = await units_of(conn, body.to_agency)
    command = d.RequestTransfer(
        transfer_id=new_child_id(request, principal, case_id, "transfer"),
        to_agency=body.to_agency,
        to_unit=body.to_unit,
        reason=body.reason,
        to_agency_units=known_units,
    )
    return await execute(request, response, principal, case_id, command)


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
    response: Response,
    principal: Annotated[Principal, Depends(require("transfer.answer"))],
) -> CaseCommandOut:
    """The receiving agency takes the case over: it must then assign its own worker."""
    command = d.AnswerTransfer(
        transfer_id=transfer_id, accept=True, by=principal.user, by_agency=principal.agency
    )
    return await execute(
        request, response, principal, case_id, command, may_act=_answerable(principal, transfer_id)
    )


@router.post("/{case_id}/transfers/{transfer_id}/decline")
async def decline_transfer(
    case_id: CaseId,
    transfer_id: TransferId,
    body: ReasonBody,
    request: Request,
    response: Response,
    principal: Annotated[Principal, Depends(require("transfer.answer"))],
) -> CaseCommandOut:
    command = d.AnswerTransfer(
        transfer_id=transfer_id,
        accept=False,
        by=principal.user,
        by_agency=principal.agency,
        reason=body.reason,
    )
    return await execute(
        request, response, principal, case_id, command, may_act=_answerable(principal, transfer_id)
    )


@router.post("/{case_id}/transfers/{transfer_id}/withdrawal")
async def withdraw_transfer(
    case_id: CaseId,
    transfer_id: TransferId,
    body: ReasonBody,
    request: Request,
    response: Response,
    principal: Annotated[Principal, Depends(require("case.transfer"))],
) -> CaseCommandOut:
    """The owning agency withdraws a transfer still awaiting an answer."""
    command = d.WithdrawTransfer(transfer_id=transfer_id, reason=body.reason)
    return await execute(request, response, principal, case_id, command)


@router.post("/{case_id}/site-transfer")
async def transfer_to_site(
    case_id: CaseId,
    body: SiteTransferBody,
    request: Request,
    response: Response,
    principal: Annotated[Principal, Depends(require("case.site_transfer"))],
) -> CaseCommandOut:
    """Release the case to another site (decision 0030): from then on only that site changes
    it (a change asked here is forwarded to it, or refused 503 naming it while it cannot be
    reached). The receiving site takes it over by itself once the release reaches it."""
    runtime: Runtime = request.app.state.runtime
    command = d.ReleaseToSite(
        to_site=body.to_site,
        reason=body.reason,
        here=runtime.settings.site,
        known=await known_sites(runtime.nc, runtime.engine),
    )
    return await execute(request, response, principal, case_id, command)


class SitesOut(BaseModel):
    site: str = Field(description="This site, which keeps the cases it lists")
    others: list[str] = Field(
        description="The other sites this one knows (its streams copy their events, or it "
        "holds their cases or reports): those a case may be released to"
    )


@sites_router.get("")
async def known(
    request: Request,
    principal: Annotated[Principal, Depends(require("case.site_transfer"))],
) -> SitesOut:
    """The sites a case may be released to from here (decision 0030), for a choice list."""
    runtime: Runtime = request.app.state.runtime
    here = runtime.settings.site
    others = await known_sites(runtime.nc, runtime.engine) - {here}
    return SitesOut(site=here, others=sorted(others))
