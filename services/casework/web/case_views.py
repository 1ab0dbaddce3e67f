"""Reading cases: one case with its plan and referral outcomes, its notes (by sensitivity),
paged and filtered lists, and the transfers awaiting an agency's answer. The supervisor's
views are in ``supervision.py`` and share the helpers here.

Every read of cases is recorded in the access log; lists are scoped to the caller's agency
(auditors see every agency)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy import Select, and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.casework.app.cases import CASE, NOT_FOUND
from services.casework.domain import RISK_LEVELS, STAGES, NoteReader, may_read_note
from services.casework.read.child_correction_handlers import corrections_of
from services.casework.read.child_names import display_name
from services.casework.read.tables import actions, cases, notes, referrals, transfers
from services.casework.web.answers import (
    CaseOut,
    CasePageOut,
    CaseSummaryOut,
    IncomingTransferOut,
    IncomingTransferPageOut,
    NoteOut,
    NotePageOut,
)
from services.casework.web.cases import CaseId, now_of
from services.casework.web.permissions import require
from shared.access import AccessLog, sees_agency
from shared.auth import Principal, Role
from shared.command_http import tag
from shared.forwarding import say_owner
from shared.http import ApiError
from shared.i18n import language
from shared.pagination import fetch_page
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
    cases.c.opened_directly,
    cases.c.next_visit_due,
    cases.c.visit_due_at,
    cases.c.last_seq,
)


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def case_summary(row: Any, now: datetime) -> dict[str, Any]:
    return {
        "case_id": row.case_id,
        "child_id": row.child_id,
        "agency": row.agency,
        "unit": row.unit,
        "stage": row.stage,
        "stage_due_at": iso(row.stage_due_at),
        "overdue": bool(row.stage_due_at and row.stage_due_at < now and row.status != "closed"),
        "status": row.status,
        "risk_level": row.risk_level,
        "urgency": row.urgency,
        "worker_id": row.worker_id,
        "supervisor_id": row.supervisor_id,
        "opened_at": iso(row.opened_at),
        "opened_directly": row.opened_directly,
        "next_visit_due": row.next_visit_due,
        "visit_overdue": visit_overdue(row, now),
        "version": row.last_seq,
    }


def visit_overdue(row: Any, now: datetime) -> bool:
    return bool(row.visit_due_at and row.visit_due_at <= now and row.status != "closed")


def scoped(query: Select[Any], principal: Principal, agency: str | None) -> Select[Any]:
    if not principal.has(Role.auditor):
        return query.where(cases.c.agency == principal.agency)
    return query.where(cases.c.agency == agency) if agency else query


def engine_and_log(request: Request) -> tuple[AsyncEngine, AccessLog]:
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
) -> CasePageOut:
    """Cases of the caller's agency, most pressing due date first."""
    (engine, access_log), now = engine_and_log(request), now_of(request)
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
    query = scoped(select(*SUMMARY).where(*conditions), principal, agency)
    rows, total = await fetch_page(
        engine,
        query,
        cases.c.stage_due_at.asc().nulls_last(),
        cases.c.case_id,
        offset=offset,
        limit=limit,
    )
    await access_log.record(principal, "case", [r.case_id for r in rows], purpose="case list")
    return CasePageOut(
        items=[CaseSummaryOut(**case_summary(r, now)) for r in rows],
        total=total,
        limit=limit,
        offset=offset,
    )


def _linked_referral() -> Any:
    """The referral an action carries out: the one casework requested for it, else the one
    sent from the portal naming it (``ReferralMade.action_id``), the live one first (a
    withdrawn or declined referral yields to the one sent after it)."""
    sent = referrals.alias("sent")
    settled = case((sent.c.status.in_(("withdrawn", "declined", "refused")), 1), else_=0)
    latest = (
        select(sent.c.referral_id)
        .where(sent.c.action_id == actions.c.action_id)
        .where(sent.c.case_id == actions.c.case_id)
        .order_by(settled, sent.c.updated_at.desc())
        .limit(1)
        .correlate(actions)
        .scalar_subquery()
    )
    return func.coalesce(actions.c.referral_id, latest)


@router.get("/cases/{case_id}")
async def read_case(
    case_id: CaseId,
    request: Request,
    response: Response,
    principal: Annotated[Principal, Depends(require("case.read"))],
) -> CaseOut:
    """One case with its reports, assessments, determinations and plan; each plan action shows
    the state of the referral that carries it out (a declined one with the unit's reason and
    suggested unit), each correction of the child's details sent to intake its outcome. The
    child's display name (name, else alias) comes from intake's record; showing it records a
    read of the child. ``version`` goes back in ``If-Match``."""
    (engine, access_log), now = engine_and_log(request), now_of(request)
    linked = _linked_referral()
    async with engine.connect() as conn:
        row = (await conn.execute(select(cases).where(cases.c.case_id == case_id))).one_or_none()
        if row is None or not sees_agency(principal, row.agency):
            raise ApiError(404, "case_not_found", NOT_FOUND)
        plan_actions = (
            await conn.execute(
                select(
                    actions,
                    linked.label("linked_referral_id"),
                    referrals.c.status.label("referral_status"),
                    referrals.c.refusal_code,
                    referrals.c.refusal_en,
                    referrals.c.refusal_fr,
                    referrals.c.decline_reason,
                    referrals.c.suggested_unit,
                )
                .select_from(actions)
                .outerjoin(referrals, referrals.c.referral_id == linked)
                .where(actions.c.case_id == case_id)
                .order_by(actions.c.seq)
            )
        ).all()
        child_corrections = await corrections_of(conn, case_id)
        child_name = await display_name(conn, row.child_id)
    await access_log.record(principal, "case", [case_id], purpose="case read")
    if child_name is not None:
        # The page names the child: that is a read of the child's record too.
        await access_log.record(principal, "child", [row.child_id], purpose="case read")
    lang = language(request.headers.get("accept-language"))
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
                    "referral_id": a.linked_referral_id,
                    "referral_status": a.referral_status
                    or ("awaiting_referral" if a.linked_referral_id else None),
                    "referral_refusal": {
                        "code": a.refusal_code,
                        "message": a.refusal_en if lang == "en" else a.refusal_fr,
                    }
                    if a.referral_status == "refused"
                    else None,
                    # The receiving unit's answer: why it declined, and where to go instead.
                    "referral_decline": {
                        "reason": a.decline_reason,
                        "suggested_unit": a.suggested_unit,
                    }
                    if a.referral_status == "declined"
                    else None,
                }
                for a in plan_actions
                if a.goal_id == goal["goal_id"]
            ],
        }
        for goal in detail.pop("goals", [])
    ]
    body = {
        **case_summary(row, now),
        # From intake's record of the child (decision 0019); None until intake has recorded
        # the child, or for a child recorded as unidentified.
        "child_display_name": child_name,
        "sex": row.sex,
        "age_band": row.age_band,
        "commune": row.commune,
        "concerns": row.concerns,
        "competency_override": row.competency_override,
        "closure_reason": row.closure_reason,
        "received_at": iso(row.received_at),
        "closed_at": iso(row.closed_at),
        "goals": goals,
        "site": row.site,
        "released_to": row.released_to,
        **detail,
        "child_corrections": child_corrections,
    }
    tag(response, row.last_seq)
    await say_owner(request, response, CASE.context, CASE.type, case_id)
    return CaseOut(**body)


@router.get("/cases/{case_id}/notes")
async def read_notes(
    case_id: CaseId,
    request: Request,
    principal: Annotated[Principal, Depends(require("case.read"))],
    limit: Limit = 50,
    offset: Offset = 0,
) -> NotePageOut:
    """The case's notes the caller may read, oldest first: normal ones for every reader of the
    case, restricted ones for the assigned worker, supervisors and the author, confidential
    ones for the case's supervisor and the author; auditors read all."""
    engine, access_log = engine_and_log(request)
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                select(cases.c.agency, cases.c.worker_id, cases.c.supervisor_id).where(
                    cases.c.case_id == case_id
                )
            )
        ).one_or_none()
        if row is None or not sees_agency(principal, row.agency):
            raise ApiError(404, "case_not_found", NOT_FOUND)
        written = (
            await conn.execute(
                select(notes).where(notes.c.case_id == case_id).order_by(notes.c.seq)
            )
        ).all()
    reader = NoteReader(
        principal.user,
        auditor=principal.has(Role.auditor),
        supervisor=principal.has(Role.supervisor),
    )
    readable = [
        n
        for n in written
        if may_read_note(
            n.sensitivity,
            n.author,
            reader,
            worker_id=row.worker_id,
            supervisor_id=row.supervisor_id,
        )
    ]
    await access_log.record(principal, "case", [case_id], purpose="case notes")
    items = [
        NoteOut(
            note_id=n.note_id,
            sensitivity=n.sensitivity,
            text=n.text,
            author=n.author,
            written_at=iso(n.written_at),
        )
        for n in readable[offset : offset + limit]
    ]
    return NotePageOut(items=items, total=len(readable), limit=limit, offset=offset)


@router.get("/transfers/incoming", tags=["transfers"])
async def incoming_transfers(
    request: Request,
    principal: Annotated[Principal, Depends(require("transfer.read"))],
    agency: Filter = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> IncomingTransferPageOut:
    """Transfers awaiting the caller's agency's answer, oldest first, with only what deciding
    needs (no notes, no narrative): urgency, the child's age band and sex, the concerns. The
    ``version`` goes back in ``If-Match`` to accept or decline."""
    (engine, access_log), now = engine_and_log(request), now_of(request)
    query = (
        select(
            transfers.c.transfer_id,
            transfers.c.case_id,
            transfers.c.from_agency,
            transfers.c.to_agency,
            transfers.c.to_unit,
            transfers.c.requested_at,
            cases.c.urgency,
            cases.c.age_band,
            cases.c.sex,
            cases.c.concerns,
            cases.c.last_seq,
        )
        .join(cases, cases.c.case_id == transfers.c.case_id)
        .where(transfers.c.status == "pending")
    )
    if not principal.has(Role.auditor):
        query = query.where(transfers.c.to_agency == principal.agency)
    elif agency:
        query = query.where(transfers.c.to_agency == agency)
    rows, total = await fetch_page(
        engine,
        query,
        transfers.c.requested_at,
        transfers.c.transfer_id,
        offset=offset,
        limit=limit,
    )
    await access_log.record(
        principal, "case", [r.case_id for r in rows], purpose="incoming transfers"
    )
    items = [
        IncomingTransferOut(
            transfer_id=r.transfer_id,
            case_id=r.case_id,
            from_agency=r.from_agency,
            to_agency=r.to_agency,
            to_unit=r.to_unit,
            requested_at=iso(r.requested_at),
            hours_waiting=int((now - r.requested_at).total_seconds() // 3600),
            urgency=r.urgency,
            age_band=r.age_band,
            sex=r.sex,
            concerns=r.concerns,
            version=r.last_seq,
        )
        for r in rows
    ]
    return IncomingTransferPageOut(items=items, total=total, limit=limit, offset=offset)
