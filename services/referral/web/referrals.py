"""Referrals: refer, answer (accept, decline, complete), withdraw, read and list."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy import or_

from services.referral.app import capacity as places
from services.referral.app.common import actor, aggregate, known_unit, replayed, wait_projected
from services.referral.app.referring import CASE_OF_ANOTHER_AGENCY, ReferBody, referral_events
from services.referral.config import ReferralConfig, get_config
from services.referral.domain import (
    Accept,
    Command,
    Complete,
    Decline,
    Status,
    Withdraw,
    decide,
)
from services.referral.read.projections import referrals
from services.referral.read.queries import (
    case_agency,
    full_view,
    referral_row,
    referral_state,
    referrals_with_owner,
    shared_view,
)
from services.referral.web.common import (
    IdempotencyKey,
    Page,
    PageSize,
    not_found,
    paged,
    runtime_of,
)
from services.referral.web.permissions import permissions
from services.referral.web.schemas import AcceptBody, CompleteBody, DeclineBody, WithdrawBody
from shared.auth import Principal, Role
from shared.causation import continue_chain
from shared.domain import DomainError
from shared.eventstore import ConcurrencyConflict
from shared.ids import derived_id, new_id
from shared.pagination import fetch_page
from shared.service import Runtime

router = APIRouter(tags=["referrals"])


def _referrer(principal: Principal, row: Any) -> bool:
    """Whoever owns the case now: after a transfer, the new agency follows up on the referrals
    its case already has, and the old one no longer sees them."""
    return principal.has(Role.case_worker, Role.supervisor) and principal.agency == row.case_agency


def _receiver(principal: Principal, row: Any) -> bool:
    return principal.has(Role.unit_coordinator) and principal.unit == row.to_unit


def _view(principal: Principal, row: Any) -> dict[str, Any]:
    if principal.has(Role.auditor) or _referrer(principal, row):
        return full_view(row)
    return shared_view(row)


@router.post("/referrals", status_code=201)
async def refer(
    config: Annotated[ReferralConfig, Depends(get_config)],
    principal: Annotated[Principal, Depends(permissions.require("referral.make"))],
    body: ReferBody,
    request: Request,
    key: IdempotencyKey = None,
) -> dict[str, Any]:
    runtime = runtime_of(request)
    assert runtime.engine is not None
    # A retried request must name the same referral, so its id comes from the key.
    referral_id = derived_id("referral", principal.user, key) if key else new_id()
    try:
        events = await referral_events(
            runtime.engine, config, body, referral_id=referral_id, from_agency=principal.agency
        )
    except DomainError as exc:
        if exc.code == CASE_OF_ANOTHER_AGENCY:
            # Another agency's case answers as a missing one: its existence is not theirs.
            raise not_found("case", "Dossier") from None
        raise
    await runtime.commit(
        aggregate(runtime, "referral", referral_id),
        0,
        events,
        actor=actor(principal),
        idempotency_key=key,
    )
    row = await referral_row(runtime.engine, referral_id)
    assert row is not None
    return full_view(row)


async def _load(
    runtime: Runtime, referral_id: str, principal: Principal, may: Callable[[Principal, Any], bool]
) -> Any:
    """The referral, if the caller may act on it; otherwise it answers as a missing one, on
    every route: a referral of another agency or unit is not the caller's to know of."""
    assert runtime.engine is not None
    row = await referral_row(runtime.engine, referral_id)
    if row is None or not may(principal, row):
        raise not_found("referral", "Orientation")
    return row


def _reader(principal: Principal, row: Any) -> bool:
    return principal.has(Role.auditor) or _referrer(principal, row) or _receiver(principal, row)


async def _transition(
    runtime: Runtime, principal: Principal, row: Any, command: Command, key: str | None
) -> Any:
    """Decide on the projected state and append with its version; answer with the new row."""
    assert runtime.engine is not None
    if replayed(runtime, "referral", row.referral_id, key, row.last_command_id):
        return row
    events = decide(referral_state(row), command)
    await runtime.commit(
        aggregate(runtime, "referral", row.referral_id),
        row.last_seq,
        events,
        actor=actor(principal),
        idempotency_key=key,
    )
    return await referral_row(runtime.engine, row.referral_id)


@router.post("/referrals/{referral_id}/accept")
async def accept(
    principal: Annotated[Principal, Depends(permissions.require("referral.answer"))],
    referral_id: str,
    body: AcceptBody,
    request: Request,
    key: IdempotencyKey = None,
) -> dict[str, Any]:
    runtime = runtime_of(request)
    row = await _load(runtime, referral_id, principal, _receiver)
    if replayed(runtime, "referral", referral_id, key, row.last_command_id):
        return shared_view(row)
    command = Accept(body.capacity_override_reason)
    decide(referral_state(row), command)  # refuse an illegal transition before reserving
    # The place is taken for this referral's story: its events carry the referral's chain.
    assert runtime.store is not None
    referral = aggregate(runtime, "referral", referral_id)
    continue_chain(await runtime.store.correlation_at(referral, row.last_seq))
    await places.reserve(runtime, principal, row.to_unit, referral_id, command.override_reason)
    try:
        new = await _transition(runtime, principal, row, command, key)
    except ConcurrencyConflict as exc:
        # The referral moved first (withdrawn, or accepted by a colleague): give the place
        # back unless it is accepted after all. Other failures keep the place (the accept
        # may be stored); if it was not, the capacity sweep gives it back after its grace.
        await wait_projected(runtime, exc.actual)
        await places.release_unless_accepted(runtime, principal, row.to_unit, referral_id)
        raise
    return shared_view(new)


@router.post("/referrals/{referral_id}/decline")
async def decline(
    principal: Annotated[Principal, Depends(permissions.require("referral.answer"))],
    referral_id: str,
    body: DeclineBody,
    request: Request,
    key: IdempotencyKey = None,
) -> dict[str, Any]:
    runtime = runtime_of(request)
    assert runtime.engine is not None
    row = await _load(runtime, referral_id, principal, _receiver)
    if body.suggested_unit is not None:
        await known_unit(runtime.engine, body.suggested_unit, "suggested_unit")
    new = await _transition(runtime, principal, row, Decline(body.reason, body.suggested_unit), key)
    return shared_view(new)


@router.post("/referrals/{referral_id}/complete")
async def complete(
    principal: Annotated[Principal, Depends(permissions.require("referral.answer"))],
    referral_id: str,
    body: CompleteBody,
    request: Request,
    key: IdempotencyKey = None,
) -> dict[str, Any]:
    runtime = runtime_of(request)
    row = await _load(runtime, referral_id, principal, _receiver)
    new = await _transition(runtime, principal, row, Complete(body.outcome), key)
    await places.release(runtime, principal, row.to_unit, referral_id, "completed")
    return shared_view(new)


@router.post("/referrals/{referral_id}/withdraw")
async def withdraw(
    principal: Annotated[Principal, Depends(permissions.require("referral.withdraw"))],
    referral_id: str,
    body: WithdrawBody,
    request: Request,
    key: IdempotencyKey = None,
) -> dict[str, Any]:
    runtime = runtime_of(request)
    row = await _load(runtime, referral_id, principal, _referrer)
    new = await _transition(runtime, principal, row, Withdraw(body.reason), key)
    await places.release(runtime, principal, row.to_unit, referral_id, "withdrawn")
    return full_view(new)


@router.get("/referrals/{referral_id}")
async def get_referral(
    principal: Annotated[Principal, Depends(permissions.require("referral.read"))],
    referral_id: str,
    request: Request,
) -> dict[str, Any]:
    runtime = runtime_of(request)
    row = await _load(runtime, referral_id, principal, _reader)
    assert runtime.access_log is not None
    await runtime.access_log.record(principal, "referral", [referral_id], purpose="referral.read")
    return _view(principal, row)


@router.get("/referrals")
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
) -> dict[str, Any]:
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
    return paged([_view(principal, r) for r in rows], total, page, page_size)
