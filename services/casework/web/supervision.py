"""The supervisor's views: caseload per worker, open cases by stage and risk, overdue stages
and visits, and every child waiting for something, since when.

Like every read of cases, these are scoped to the caller's agency (auditors see every agency),
and those listing cases are recorded in the access log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy import Select, case, func, literal, or_, select, union_all

from services.casework.domain import RISK_LEVELS, STAGES
from services.casework.read.tables import cases, referrals, transfers
from services.casework.web.case_views import (
    SUMMARY,
    Filter,
    Limit,
    Offset,
    case_summary,
    engine_and_log,
    iso,
    scoped,
    visit_overdue,
)
from services.casework.web.cases import utc_now
from services.casework.web.permissions import require
from shared.auth import Principal, Role
from shared.pagination import fetch_page

# Tagged as when these views shared the cases router: ``cases`` plus each route's
# ``supervision``, so the OpenAPI document is unchanged.
router = APIRouter(tags=["cases"])


@router.get("/supervision/caseload", tags=["supervision"])
async def caseload(
    request: Request,
    principal: Annotated[Principal, Depends(require("supervision.read"))],
    agency: Filter = None,
) -> JSONResponse:
    """Open cases per worker, with how many are overdue (stage), have a missed visit, are
    high-risk or assigned by override."""
    (engine, _), now = engine_and_log(request), utc_now()
    query = scoped(
        select(
            cases.c.worker_id,
            func.count().label("open_cases"),
            func.count(case((cases.c.stage_due_at < now, 1))).label("overdue"),
            func.count(case((cases.c.visit_due_at <= now, 1))).label("visits_overdue"),
            func.count(case((cases.c.risk_level == "high", 1))).label("high_risk"),
            func.count(case((cases.c.competency_override.is_(True), 1))).label("overridden"),
        ).where(cases.c.status != "closed"),
        principal,
        agency,
    ).group_by(cases.c.worker_id)
    async with engine.connect() as conn:
        rows = (await conn.execute(query.order_by(cases.c.worker_id.nulls_first()))).all()
    return JSONResponse({"workers": [dict(r._mapping) for r in rows]})


@router.get("/supervision/stages", tags=["supervision"])
async def by_stage_and_risk(
    request: Request,
    principal: Annotated[Principal, Depends(require("supervision.read"))],
    agency: Filter = None,
) -> JSONResponse:
    """Open cases counted by stage and risk level."""
    engine, _ = engine_and_log(request)
    query = scoped(
        select(cases.c.stage, cases.c.risk_level, func.count().label("cases")).where(
            cases.c.status != "closed"
        ),
        principal,
        agency,
    ).group_by(cases.c.stage, cases.c.risk_level)
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    counts = {s: {r: 0 for r in RISK_LEVELS} for s in STAGES if s != "closure"}
    for row in rows:
        counts.setdefault(row.stage, {})[row.risk_level] = row.cases
    return JSONResponse({"stages": counts})


@router.get("/supervision/overdue", tags=["supervision"])
async def overdue_items(
    request: Request,
    principal: Annotated[Principal, Depends(require("supervision.read"))],
    agency: Filter = None,
    worker_id: Filter = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> JSONResponse:
    """Open cases whose current stage is past due or whose follow-up visit was missed, longest
    overdue first; ``overdue_for`` says which (``stage``, ``follow_up_visit``)."""
    (engine, access_log), now = engine_and_log(request), utc_now()
    stage_late = cases.c.stage_due_at < now
    visit_late = cases.c.visit_due_at <= now
    # PostgreSQL's LEAST skips NULLs: the earlier of whichever deadlines have passed.
    since = func.least(
        case((stage_late, cases.c.stage_due_at)), case((visit_late, cases.c.visit_due_at))
    ).label("overdue_since")
    query = scoped(
        select(*SUMMARY, since).where(cases.c.status != "closed", or_(stage_late, visit_late)),
        principal,
        agency,
    )
    if worker_id is not None:
        query = query.where(cases.c.worker_id == worker_id)
    rows, total = await fetch_page(
        engine, query, since, cases.c.case_id, offset=offset, limit=limit
    )
    await access_log.record(principal, "case", [r.case_id for r in rows], purpose="overdue list")
    items = []
    for r in rows:
        late = []
        if r.stage_due_at is not None and r.stage_due_at < now:
            late.append("stage")
        if visit_overdue(r, now):
            late.append("follow_up_visit")
        items.append(
            {
                **case_summary(r, now),
                "overdue_for": late,
                "overdue_since": iso(r.overdue_since),
                "hours_overdue": int((now - r.overdue_since).total_seconds() // 3600),
            }
        )
    return JSONResponse({"items": items, "total": total, "limit": limit, "offset": offset})


WAITING_FOR = (
    "assignment",
    "stage",
    "follow_up_visit",
    "transfer_answer",
    "incoming_transfer",
    "referral_answer",
)


@router.get("/supervision/waiting", tags=["supervision"])
async def waiting(
    request: Request,
    principal: Annotated[Principal, Depends(require("supervision.read"))],
    agency: Filter = None,
    waiting_for: Literal[WAITING_FOR] | None = None,  # type: ignore[valid-type]
    limit: Limit = 50,
    offset: Offset = 0,
) -> JSONResponse:
    """Every child waiting for something, longest wait first: a worker (``assignment``), a
    stage past due (``stage``), a missed visit (``follow_up_visit``), another agency's answer
    to a transfer (``transfer_answer``) or a referral (``referral_answer``), or this agency's
    own answer to a transfer it was offered (``incoming_transfer``, minimal fields only)."""
    (engine, access_log), now = engine_and_log(request), utc_now()
    target = agency if principal.has(Role.auditor) else principal.agency
    is_open = cases.c.status != "closed"

    def own(kind: str, since: Any, ref: Any, *where: Any, join: Any = None) -> Select[Any]:
        source = cases if join is None else cases.join(*join)
        query = (
            select(
                cases.c.case_id,
                literal(kind).label("waiting_for"),
                since.label("since"),
                ref.label("ref"),
            )
            .select_from(source)
            .where(is_open, *where)
        )
        return query.where(cases.c.agency == target) if target else query

    none = literal(None).cast(cases.c.stage.type)
    on_transfer = (transfers, transfers.c.case_id == cases.c.case_id)
    on_referral = (referrals, referrals.c.case_id == cases.c.case_id)
    parts = [
        own("assignment", cases.c.owner_since, none, cases.c.worker_id.is_(None)),
        own("stage", cases.c.stage_due_at, cases.c.stage, cases.c.stage_due_at < now),
        own(
            "follow_up_visit",
            cases.c.visit_due_at,
            cases.c.next_visit_due,
            cases.c.visit_due_at <= now,
        ),
        own(
            "transfer_answer",
            transfers.c.requested_at,
            transfers.c.transfer_id,
            transfers.c.status == "pending",
            join=on_transfer,
        ),
        own(
            "referral_answer",
            referrals.c.updated_at,
            referrals.c.referral_id,
            referrals.c.status.in_(("requested", "made")),
            join=on_referral,
        ),
    ]
    if target:
        parts.append(
            select(
                cases.c.case_id,
                literal("incoming_transfer").label("waiting_for"),
                transfers.c.requested_at.label("since"),
                transfers.c.transfer_id.label("ref"),
            )
            .select_from(cases.join(*on_transfer))
            .where(transfers.c.status == "pending", transfers.c.to_agency == target)
        )
    waits = union_all(*parts).subquery()
    query = select(
        waits.c.case_id,
        waits.c.waiting_for,
        waits.c.since,
        waits.c.ref,
        cases.c.child_id,
        cases.c.agency,
        cases.c.stage,
        cases.c.urgency,
        cases.c.risk_level,
        cases.c.worker_id,
        cases.c.age_band,
        cases.c.sex,
        cases.c.concerns,
    ).join(cases, cases.c.case_id == waits.c.case_id)
    if waiting_for is not None:
        query = query.where(waits.c.waiting_for == waiting_for)
    rows, total = await fetch_page(
        engine,
        query,
        waits.c.since,
        waits.c.case_id,
        waits.c.waiting_for,
        offset=offset,
        limit=limit,
    )
    await access_log.record(
        principal, "case", sorted({r.case_id for r in rows}), purpose="waiting list"
    )
    return JSONResponse(
        {
            "items": [_waiting_item(r, now) for r in rows],
            "total": total,
            "limit": limit,
            "offset": offset,
        }
    )


def _waiting_item(row: Any, now: datetime) -> dict[str, Any]:
    item: dict[str, Any] = {
        "case_id": row.case_id,
        "waiting_for": row.waiting_for,
        "ref": row.ref,
        "since": iso(row.since),
        "hours_waiting": int((now - row.since).total_seconds() // 3600),
        "urgency": row.urgency,
    }
    if row.waiting_for == "incoming_transfer":
        # Not this agency's case yet: what deciding needs, as in /transfers/incoming.
        return {
            **item,
            "from_agency": row.agency,
            "age_band": row.age_band,
            "sex": row.sex,
            "concerns": row.concerns,
        }
    return {
        **item,
        "child_id": row.child_id,
        "agency": row.agency,
        "stage": row.stage,
        "risk_level": row.risk_level,
        "worker_id": row.worker_id,
    }
