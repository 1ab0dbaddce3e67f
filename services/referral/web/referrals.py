"""Referrals: refer, answer (accept, decline, complete), withdraw, read and list."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import or_

from services.referral.app import capacity as places
from services.referral.app import referrals as referral_commands
from services.referral.app.common import known_unit
from services.referral.app.referring import CASE_OF_ANOTHER_AGENCY, ReferBody, make_command
from services.referral.config import ReferralConfig
from services.referral.domain import Accept, Complete, Decline, Referral, Status, Withdraw
from services.referral.read.projections import referrals
from services.referral.read.queries import (
    case_agency,
    full_view,
    preview_view,
    referral_row,
    referrals_with_owner,
    shared_view,
)
from services.referral.web.common import (
    Page,
    PageSize,
    get_config,
    not_found,
    runtime_of,
)
from services.referral.web.permissions import permissions
from services.referral.web.schemas import (
    AcceptBody,
    AnyReferralOut,
    CompleteBody,
    DeclineBody,
    ReferralOut,
    ReferralPageOut,
    SharedReferralOut,
    WithdrawBody,
)
from shared.auth import Principal, Role
from shared.command_http import actor_of, command_key, new_aggregate_id, seen, tag
from shared.domain import DomainError
from shared.pagination import fetch_page
from shared.service import Runtime

router = APIRouter(tags=["referrals"])


def _referrer(principal: Principal, row: Any) -> bool:
    """Whoever owns the case now: after a transfer, the new agency follows up on the referrals
    its case already has, and the old one no longer sees them."""
    return principal.has(Role.case_worker, Role.supervisor) and principal.agency == row.case_agency


def _receiver(principal: Principal, row: Any) -> bool:
    return principal.has(Role.unit_coordinator) and principal.unit == row.to_unit


def _view(principal: Principal, row: Any) -> AnyReferralOut:
    if principal.has(Role.auditor) or _referrer(principal, row):
        return ReferralOut(**full_view(row))
    return SharedReferralOut(**shared_view(row))


@router.post("/referrals", status_code=201)
async def refer(
    config: Annotated[ReferralConfig, Depends(get_config)],
    principal: Annotated[Principal, Depends(permissions.require("referral.make"))],
    body: ReferBody,
    request: Request,
    response: Response,
) -> ReferralOut:
    runtime = runtime_of(request)
    assert runtime.engine is not None
    key = command_key(request, principal)
    # A retried request must name the same referral, so its id comes from the key.
    referral_id = new_aggregate_id(key, "referral")
    try:
        outcome = await referral_commands.make(
            runtime,
            config,
            body,
            referral_id=referral_id,
            from_agency=principal.agency,
            actor=actor_of(principal),
            key=key,
        )
    except DomainError as exc:
        if exc.code == CASE_OF_ANOTHER_AGENCY:
            # Another agency's case answers as a missing one: its existence is not theirs.
            raise not_found("case", "Dossier") from None
        raise
    tag(response, outcome.version)
    return ReferralOut(**full_view(await _row(runtime, referral_id)))


@router.post("/referrals/preview", response_model_exclude_unset=True)
async def preview(
    config: Annotated[ReferralConfig, Depends(get_config)],
    principal: Annotated[Principal, Depends(permissions.require("referral.make"))],
    body: ReferBody,
    request: Request,
) -> SharedReferralOut:
    """Exactly what the receiving unit will see of this referral once it is made (the body of
    ``POST /referrals``, checked by the same rules), without making it: nothing is stored.
    ``referral_id`` is empty and ``version`` 0 until it is made."""
    runtime = runtime_of(request)
    assert runtime.engine is not None
    try:
        command = await make_command(
            runtime.engine, config, body, referral_id="", from_agency=principal.agency
        )
    except DomainError as exc:
        if exc.code == CASE_OF_ANOTHER_AGENCY:
            raise not_found("case", "Dossier") from None
        raise
    now = config.clock().astimezone(UTC).isoformat().replace("+00:00", "Z")
    return SharedReferralOut(**preview_view(command.made, command.details, now))


async def _row(runtime: Runtime, referral_id: str) -> Any:
    assert runtime.engine is not None
    row = await referral_row(runtime.engine, referral_id)
    if row is None:
        raise not_found("referral", "Orientation")
    return row


async def _load(
    runtime: Runtime, referral_id: str, principal: Principal, may: Callable[[Principal, Any], bool]
) -> Any:
    """The referral, if the caller may act on it; otherwise it answers as a missing one, on
    every route: a referral of another agency or unit is not the caller's to know of."""
    row = await _row(runtime, referral_id)
    if not may(principal, row):
        raise not_found("referral", "Orientation")
    return row


def _reader(principal: Principal, row: Any) -> bool:
    return principal.has(Role.auditor) or _referrer(principal, row) or _receiver(principal, row)


def _exists(state: Referral | None) -> bool:
    return state is not None


@router.post("/referrals/{referral_id}/accept", response_model_exclude_unset=True)
async def accept(
    principal: Annotated[Principal, Depends(permissions.require("referral.answer"))],
    referral_id: str,
    body: AcceptBody,
    request: Request,
    response: Response,
) -> SharedReferralOut:
    runtime = runtime_of(request)
    expect = seen(request)
    row = await _load(runtime, referral_id, principal, _receiver)
    outcome = await referral_commands.accept(
        runtime,
        referral_id,
        Accept(body.capacity_override_reason),
        to_unit=row.to_unit,
        expect=expect,
        actor=actor_of(principal),
        key=command_key(request, principal),
        visible=_exists,
    )
    tag(response, outcome.version)
    return SharedReferralOut(**shared_view(await _row(runtime, referral_id)))


@router.post("/referrals/{referral_id}/decline", response_model_exclude_unset=True)
async def decline(
    principal: Annotated[Principal, Depends(permissions.require("referral.answer"))],
    referral_id: str,
    body: DeclineBody,
    request: Request,
    response: Response,
) -> SharedReferralOut:
    runtime = runtime_of(request)
    assert runtime.engine is not None
    expect = seen(request)
    await _load(runtime, referral_id, principal, _receiver)
    if body.suggested_unit is not None:
        await known_unit(runtime.engine, body.suggested_unit, "suggested_unit")
    outcome = await referral_commands.transition(
        runtime,
        referral_id,
        Decline(body.reason, body.suggested_unit),
        expect=expect,
        actor=actor_of(principal),
        key=command_key(request, principal),
        visible=_exists,
    )
    tag(response, outcome.version)
    return SharedReferralOut(**shared_view(await _row(runtime, referral_id)))


@router.post("/referrals/{referral_id}/complete", response_model_exclude_unset=True)
async def complete(
    principal: Annotated[Principal, Depends(permissions.require("referral.answer"))],
    referral_id: str,
    body: CompleteBody,
    request: Request,
    response: Response,
) -> SharedReferralOut:
    runtime = runtime_of(request)
    expect = seen(request)
    row = await _load(runtime, referral_id, principal, _receiver)
    actor = actor_of(principal)
    outcome = await referral_commands.transition(
        runtime,
        referral_id,
        Complete(body.outcome),
        expect=expect,
        actor=actor,
        key=command_key(request, principal),
        visible=_exists,
    )
    await places.release(runtime, actor, row.to_unit, referral_id, "completed")
    tag(response, outcome.version)
    return SharedReferralOut(**shared_view(await _row(runtime, referral_id)))


@router.post("/referrals/{referral_id}/withdraw")
async def withdraw(
    principal: Annotated[Principal, Depends(permissions.require("referral.withdraw"))],
    referral_id: str,
    body: WithdrawBody,
    request: Request,
    response: Response,
) -> ReferralOut:
    runtime = runtime_of(request)
    expect = seen(request)
    row = await _load(runtime, referral_id, principal, _referrer)
    actor = actor_of(principal)
    outcome = await referral_commands.transition(
        runtime,
        referral_id,
        Withdraw(body.reason),
        expect=expect,
        actor=actor,
        key=command_key(request, principal),
        visible=_exists,
    )
    await places.release(runtime, actor, row.to_unit, referral_id, "withdrawn")
    tag(response, outcome.version)
    return ReferralOut(**full_view(await _row(runtime, referral_id)))


@router.get("/referrals/{referral_id}", response_model_exclude_unset=True)
async def get_referral(
    principal: Annotated[Principal, Depends(permissions.require("referral.read"))],
    referral_id: str,
    request: Request,
    response: Response,
) -> AnyReferralOut:
    """The referral as the caller may see it; its ``ETag`` goes back in ``If-Match``."""
    runtime = runtime_of(request)
    row = await _load(runtime, referral_id, principal, _reader)
    assert runtime.access_log is not None
    await runtime.access_log.record(principal, "referral", [referral_id], purpose="referral.read")
    tag(response, row.last_seq)
    return _view(principal, row)


@router.get("/referrals", response_model_exclude_unset=True)
async def list_referrals(
    principal: Annotated[Principal, Depends(permissions.require("referral.read"))],
    request: Request,
    unit: str | None = None,
    status: Status | None = None,
    overdue: bool | None = None,
    service_kind: str | None = None,
    case_id: str | None = None,
    page: Page = 1,
    page_size: PageSize = 20,
) -> ReferralPageOut:
    runtime = runtime_of(request)
    assert runtime.engine is not None and runtime.access_log is not None
    query = referrals_with_owner()
    if not principal.has(Role.auditor):
        scopes = []
        if principal.has(Role.case_worker, Role.supervisor):
            scopes.append(case_agency == principal.agency)
        if principal.has(Role.unit_coordinator) and principal.unit:
            scopes.append(referrals.c.to_unit == principal.unit)
        query = query.where(or_(*scopes) if scopes else referrals.c.referral_id.is_(None))
    for column, value in (
        (referrals.c.to_unit, unit),
        (referrals.c.status, status.value if status else None),
        (referrals.c.overdue, overdue),
        (referrals.c.service_kind, service_kind),
        (referrals.c.case_id, case_id),
    ):
        if value is not None:
            query = query.where(column == value)
    rows, total = await fetch_page(
        runtime.engine,
        query,
        referrals.c.due_at,
        referrals.c.referral_id,
        offset=(page - 1) * page_size,
        limit=page_size,
    )
    await runtime.access_log.record(
        principal, "referral", [r.referral_id for r in rows], purpose="referral.list"
    )
    return ReferralPageOut(
        items=[_view(principal, r) for r in rows], total=total, page=page, page_size=page_size
    )
