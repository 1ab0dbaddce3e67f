"""Reading cases: one case with its plan and referral outcomes, paged and filtered lists, and
the supervisor's views (caseload per worker, cases by stage and risk, overdue stages).

Every read of cases is recorded in the access log; lists are scoped to the caller's agency
(auditors see every agency)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy import Select, and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.casework.api import NOT_FOUND, CaseId, utc_now
from services.casework.domain import RISK_LEVELS, STAGES
from services.casework.permissions import require
from services.casework.projections import actions, cases, referrals
from shared.access import AccessLog, sees_agency
from shared.auth import Principal, Role
from shared.http import ApiError
from shared.service import Runtime

router = APIRouter(tags=["cases"])

Limit = Annotated[int, Query(ge=1, le=200)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
Filter = Annotated[str | None, Query(max_length=200)]

SUMMARY = (
    cases.c.case_id,
    cases.c.child_id,
    cases.c.agency,
    cases.c.unit,
    cases.c.stage,
    cases.c.stage_due_at,
    cases.c.overdue_flagged,
    cases.c.status,
    cases.c.risk_level,
    cases.c.urgency,
    cases.c.worker_id,
    cases.c.supervisor_id,
    cases.c.opened_at,
    cases.c.last_seq,
)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def _summary(row: Any, now: datetime) -> dict[str, Any]:
    return {
        "case_id": row.case_id,
        "child_id": row.child_id,
        "agency": row.agency,
        "unit": row.unit,
        "stage": row.stage,
        "stage_due_at": _iso(row.stage_due_at),
        "overdue": bool(row.stage_due_at and row.stage_due_at < now and row.status != "closed"),
        "status": row.status,
        "risk_level": row.risk_level,
        "urgency": row.urgency,
        "worker_id": row.worker_id,
        "supervisor_id": row.supervisor_id,
        "opened_at": _iso(row.opened_at),
        "version": row.last_seq,
    }


def _scoped(query: Select[Any], principal: Principal, agency: str | None) -> Select[Any]:
    if not principal.has(Role.auditor):
        return query.where(cases.c.agency == principal.agency)
    return query.where(cases.c.agency == agency) if agency else query


def _parts(request: Request) -> tuple[AsyncEngine, AccessLog]:
    runtime: Runtime = request.app.state.runtime
    assert runtime.engine is not None and runtime.access_log is not None
    return runtime.engine, runtime.access_log


@router.get("/cases")
async def list_cases(
    request: Request,
    principal: Annotated[Principal, Depends(require("case.read"))],
    status: Literal["open", "closure_requested", "closed"] | None = None,
    stage: Literal[STAGES] | None = None,  # type: ignore[valid-type]
    risk_level: Literal[RISK_LEVELS] | None = None,  # type: ignore[valid-type]
    worker_id: Filter = None,
    child_id: Filter = None,
    agency: Filter = None,
    overdue: bool | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> JSONResponse:
    """Cases of the caller's agency, most pressing due date first."""
    (engine, access_log), now = _parts(request), utc_now()
    conditions = [
        column == value
        for column, value in (
            (cases.c.status, status),
            (cases.c.stage, stage),
            (cases.c.risk_level, risk_level),
            (cases.c.worker_id, worker_id),
            (cases.c.child_id, child_id),
        )
        if value is not None
    ]
    is_overdue = and_(cases.c.status != "closed", cases.c.stage_due_at < now)
    if overdue is not None:
        conditions.append(is_overdue if overdue else ~is_overdue)
    query = _scoped(select(*SUMMARY).where(*conditions), principal, agency)
    async with engine.connect() as conn:
        total = (await conn.execute(select(func.count()).select_from(query.subquery()))).scalar()
        rows = (
            await conn.execute(
                query.order_by(cases.c.stage_due_at.asc().nulls_last(), cases.c.case_id)
                .limit(limit)
                .offset(offset)
            )
        ).all()
    await access_log.record(principal, "case", [r.case_id for r in rows], purpose="case list")
    return JSONResponse(
        {
            "items": [_summary(r, now) for r in rows],
            "total": total,
            "limit": limit,
            "offset": offset,
        }
    )


@router.get("/cases/{case_id}")
async def read_case(
    case_id: CaseId,
    request: Request,
    principal: Annotated[Principal, Depends(require("case.read"))],
) -> JSONResponse:
    """One case with its reports, assessments, determinations and plan; each plan action shows
    the state of the referral that carries it out. ``version`` goes back in ``If-Match``."""
    (engine, access_log), now = _parts(request), utc_now()
    async with engine.connect() as conn:
        row = (await conn.execute(select(cases).where(cases.c.case_id == case_id))).one_or_none()
        if row is None or not sees_agency(principal, row.agency):
            raise ApiError(404, "case_not_found", NOT_FOUND)
        plan_actions = (
            await conn.execute(
                select(actions, referrals.c.status.label("referral_status"))
                .outerjoin(referrals, referrals.c.referral_id == actions.c.referral_id)
                .where(actions.c.case_id == case_id)
                .order_by(actions.c.seq)
            )
        ).all()
    await access_log.record(principal, "case", [case_id], purpose="case read")
    detail = dict(row.detail)
    goals = [
        {
            **goal,
            "actions": [
                {
                    "action_id": a.action_id,
                    "text": a.text,
                    "responsible_agency": a.responsible_agency,
                    "responsible_unit": a.responsible_unit,
                    "service_kind": a.service_kind,
                    "due_on": a.due_on,
                    "referral_id": a.referral_id,
                    "referral_status": a.referral_status
                    or ("awaiting_referral" if a.referral_id else None),
                }
                for a in plan_actions
                if a.goal_id == goal["goal_id"]
            ],
        }
        for goal in detail.pop("goals", [])
    ]
    body = {
        **_summary(row, now),
        "sex": row.sex,
        "age_band": row.age_band,
        "commune": row.commune,
        "concerns": row.concerns,
        "competency_override": row.competency_override,
        "closure_reason": row.closure_reason,
        "received_at": _iso(row.received_at),
        "closed_at": _iso(row.closed_at),
        "goals": goals,
        **detail,
    }
    return JSONResponse(body, headers={"ETag": f'"{row.last_seq}"'})


@router.get("/supervision/caseload", tags=["supervision"])
async def caseload(
    request: Request,
    principal: Annotated[Principal, Depends(require("supervision.read"))],
    agency: Filter = None,
) -> JSONResponse:
    """Open cases per worker, with how many are overdue, high-risk or assigned by override."""
    (engine, _), now = _parts(request), utc_now()
    query = _scoped(
        select(
            cases.c.worker_id,
            func.count().label("open_cases"),
            func.count(case((cases.c.stage_due_at < now, 1))).label("overdue"),
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
    engine, _ = _parts(request)
    query = _scoped(
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
    """Open cases whose current stage is past due, longest overdue first."""
    (engine, access_log), now = _parts(request), utc_now()
    query = _scoped(
        select(*SUMMARY).where(cases.c.status != "closed", cases.c.stage_due_at < now),
        principal,
        agency,
    )
    if worker_id is not None:
        query = query.where(cases.c.worker_id == worker_id)
    async with engine.connect() as conn:
        total = (await conn.execute(select(func.count()).select_from(query.subquery()))).scalar()
        rows = (
            await conn.execute(
                query.order_by(cases.c.stage_due_at, cases.c.case_id).limit(limit).offset(offset)
            )
        ).all()
    await access_log.record(principal, "case", [r.case_id for r in rows], purpose="overdue list")
    items = [
        {**_summary(r, now), "hours_overdue": int((now - r.stage_due_at).total_seconds() // 3600)}
        for r in rows
    ]
    return JSONResponse({"items": items, "total": total, "limit": limit, "offset": offset})
