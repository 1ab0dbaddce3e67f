"""Child records and duplicates (search, read, confirm, reject) and complaints (recourse)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from sqlalchemy import select

from services.intake import matching
from services.intake.domain import (
    RecordChild,
    ResolveDuplicate,
    age_range,
    child_state,
    decide_child,
    decide_complaint,
    parse_time,
)
from services.intake.events import (
    ChildRecorded,
    ComplaintFiled,
    DuplicateSuggested,
    ReportedChild,
    ReportRegistered,
)
from services.intake.permissions import permissions
from services.intake.projections import children, complaints, links, suggestions
from services.intake.schemas import ComplaintIn, ResolutionIn
from services.intake.web import (
    ID_PATTERN,
    actor_of,
    aggregate,
    idempotency_key,
    load,
    not_found,
    runtime_of,
)
from shared.access import sees_agency
from shared.auth import Principal
from shared.ids import derived_id, new_id
from shared.reference import locations
from shared.service import Runtime

router = APIRouter(tags=["children", "complaints"])
ChildId = Annotated[str, Path(pattern=ID_PATTERN)]


def _department(commune: str) -> str | None:
    return None if commune == "unknown" else locations().parent_of(commune)


def _profile_of(row: Any) -> matching.Profile:
    d = row.details
    born = (row.born_from, row.born_to) if row.born_from is not None else None
    return matching.profile(
        row.child_id,
        name=d.get("name"),
        alias=d.get("alias"),
        sex=row.sex,
        born=born,
        commune=row.commune,
        department=_department(row.commune),
    )


def profile_for(child: ReportedChild, commune: str, received: date) -> matching.Profile:
    known = age_range(child, received)
    dob = date.fromisoformat(child.date_of_birth) if child.date_of_birth else None
    born = matching.birth_window(
        received, dob, known[0] if known else None, known[1] if known else None
    )
    return matching.profile(
        child.child_id,
        name=child.name,
        alias=child.alias,
        sex=child.sex,
        born=born,
        commune=commune,
        department=_department(commune),
    )


async def candidates(
    rt: Runtime, new: matching.Profile, keys: list[str], exclude_report: str | None
) -> list[matching.Match]:
    """Known children sharing a blocking key, scored by the matcher."""
    if not keys:
        return []
    assert rt.engine is not None
    query = select(children).where(
        children.c.block_keys.overlap(keys), children.c.unidentified.is_(False)
    )
    if exclude_report:
        query = query.where(children.c.report_id != exclude_report)
    async with rt.engine.connect() as conn:
        rows = (await conn.execute(query.limit(5000))).all()
    return matching.suggest(new, [_profile_of(r) for r in rows])


async def record(
    rt: Runtime,
    principal: Principal,
    report: ReportRegistered,
    child: ReportedChild,
    key: str | None,
) -> dict[str, Any]:
    """The child record for one child of a new report, with suggested duplicates."""
    agg = aggregate(rt, "child", child.child_id)
    state, _ = await load(rt, agg, child_state)
    matches: list[matching.Match] = []
    if not state.exists:
        received = parse_time(report.received_at).date()
        new = profile_for(child, report.commune, received)
        keys = matching.blocking_keys(child.name, child.alias)
        matches = await candidates(rt, new, keys, report.report_id)
    events = decide_child(
        state,
        RecordChild(
            ChildRecorded(
                child_id=child.child_id,
                report_id=report.report_id,
                agency=report.agency,
                commune=report.commune,
                received_at=report.received_at,
                details=child,
            ),
            [
                DuplicateSuggested(
                    child_id=child.child_id,
                    candidate_id=m.candidate_id,
                    score=m.score,
                    reasons=list(m.reasons),
                )
                for m in matches
            ],
        ),
    )
    if events:
        await rt.commit(
            agg,
            0,
            events,
            actor=actor_of(principal),
            idempotency_key=f"{key}:child" if key else None,
        )
    return {
        "child_id": child.child_id,
        "suggested_duplicates": [
            {"candidate_id": m.candidate_id, "score": m.score, "reasons": list(m.reasons)}
            for m in matches
        ],
    }


async def canonical_ids(rt: Runtime, child_ids: list[str]) -> dict[str, str]:
    """For each child linked as a confirmed duplicate of an earlier record, that earliest
    record: casework then adds the report to the case it already has for the child."""
    assert rt.engine is not None
    other = children.alias("other")
    own = children.alias("own")
    async with rt.engine.connect() as conn:
        rows = await conn.execute(
            select(links.c.child_id, links.c.other_id)
            .join(other, other.c.child_id == links.c.other_id)
            .join(own, own.c.child_id == links.c.child_id)
            .where(links.c.child_id.in_(child_ids), other.c.received_at < own.c.received_at)
            .order_by(other.c.received_at, links.c.other_id)
        )
        found: dict[str, str] = {}
        for row in rows:
            found.setdefault(row.child_id, row.other_id)
    return found


def _child_view(row: Any) -> dict[str, Any]:
    return {
        "child_id": row.child_id,
        "report_id": row.report_id,
        "agency": row.agency,
        "commune": row.commune,
        "received_at": row.received_at.isoformat(),
        "details": dict(row.details),
        "version": row.version,
    }


@router.get("/children")
async def search_children(
    request: Request,
    principal: Annotated[Principal, Depends(permissions.require("child.read"))],
    name: str = Query(min_length=2, max_length=200),
    sex: str | None = Query(default=None, pattern="^(female|male|unknown|other)$"),
    page_size: int = Query(default=20, ge=1, le=100),
) -> dict[str, Any]:
    rt = runtime_of(request)
    wanted = matching.tokens(name)
    keys = matching.blocking_keys(name, None)
    assert rt.engine is not None and rt.access_log is not None
    query = select(children).where(children.c.block_keys.overlap(keys))
    if sex:
        query = query.where(children.c.sex == sex)
    async with rt.engine.connect() as conn:
        rows = (await conn.execute(query.limit(5000))).all()
    scored = []
    for row in rows:
        if not sees_agency(principal, row.agency):
            continue
        names = [n for n in (row.details.get("name"), row.details.get("alias")) if n]
        best = max((matching.name_similarity(wanted, matching.tokens(n)) for n in names), default=0)
        if best >= matching.NAME_GATE:
            scored.append((best, row))
    scored.sort(key=lambda pair: -pair[0])
    items = [{**_child_view(r), "score": round(s, 3)} for s, r in scored[:page_size]]
    await rt.access_log.record(
        principal, "child", [i["child_id"] for i in items], purpose="intake.child.search"
    )
    return {"items": items}


@router.get("/children/{child_id}")
async def read_child(
    child_id: ChildId,
    request: Request,
    principal: Annotated[Principal, Depends(permissions.require("child.read"))],
) -> dict[str, Any]:
    rt = runtime_of(request)
    assert rt.engine is not None and rt.access_log is not None
    async with rt.engine.connect() as conn:
        row = (await conn.execute(select(children).where(children.c.child_id == child_id))).first()
        if row is None or not sees_agency(principal, row.agency):
            raise not_found()
        sugg = await conn.execute(select(suggestions).where(suggestions.c.child_id == child_id))
        linked = await conn.execute(select(links.c.other_id).where(links.c.child_id == child_id))
        view = {
            **_child_view(row),
            "suggested_duplicates": [
                {"candidate_id": s.candidate_id, "score": s.score, "status": s.status} for s in sugg
            ],
            "linked": [r.other_id for r in linked],
        }
    await rt.access_log.record(principal, "child", [child_id], purpose="intake.child.read")
    return view


async def _resolve(
    request: Request,
    principal: Principal,
    child_id: str,
    candidate_id: str,
    confirm: bool,
    body: ResolutionIn | None,
) -> dict[str, Any]:
    rt = runtime_of(request)
    agg = aggregate(rt, "child", child_id)
    assert rt.store is not None
    recorded = await rt.store.load(agg)
    first = recorded[0].event if recorded else None
    if not isinstance(first, ChildRecorded) or not sees_agency(principal, first.agency):
        raise not_found()
    state, version = child_state([r.event for r in recorded]), recorded[-1].seq
    note = body.note if body else None
    events = decide_child(state, ResolveDuplicate(candidate_id, confirm, note))
    expected = body.version if body and body.version is not None else version
    result = await rt.commit(
        agg, expected, events, actor=actor_of(principal), idempotency_key=idempotency_key(request)
    )
    status = "confirmed" if confirm else "rejected"
    return {
        "child_id": child_id,
        "candidate_id": candidate_id,
        "status": status,
        "version": result.head.seq,
    }


@router.post("/children/{child_id}/duplicates/{candidate_id}/confirm")
async def confirm_duplicate(
    child_id: ChildId,
    candidate_id: ChildId,
    request: Request,
    principal: Annotated[Principal, Depends(permissions.require("child.link"))],
    body: ResolutionIn | None = None,
) -> dict[str, Any]:
    return await _resolve(request, principal, child_id, candidate_id, True, body)


@router.post("/children/{child_id}/duplicates/{candidate_id}/reject")
async def reject_duplicate(
    child_id: ChildId,
    candidate_id: ChildId,
    request: Request,
    principal: Annotated[Principal, Depends(permissions.require("child.link"))],
    body: ResolutionIn | None = None,
) -> dict[str, Any]:
    return await _resolve(request, principal, child_id, candidate_id, False, body)


@router.post("/complaints", status_code=201)
async def file_complaint(
    body: ComplaintIn,
    request: Request,
    principal: Annotated[Principal, Depends(permissions.require("complaint.file"))],
) -> dict[str, Any]:
    rt = runtime_of(request)
    key = idempotency_key(request)
    complaint_id = derived_id("intake.complaint", principal.agency, key) if key else new_id()
    events = decide_complaint(
        False,
        ComplaintFiled(
            complaint_id=complaint_id,
            about_user=body.about_user,
            about_agency=body.about_agency,
            child_id=body.child_id,
            complainant=body.complainant,
            account=body.account,
            filed_by_agency=principal.agency,
        ),
    )
    agg = aggregate(rt, "complaint", complaint_id)
    result = await rt.commit(agg, 0, events, actor=actor_of(principal), idempotency_key=key)
    # The filer gets a receipt, not the complaint list: only the oversight role reads those.
    return {"complaint_id": complaint_id, "version": result.head.seq}


@router.get("/complaints")
async def list_complaints(
    request: Request,
    principal: Annotated[Principal, Depends(permissions.require("complaint.list"))],
    page: int = Query(default=1, ge=1),
    page_size: int = Query(default=50, ge=1, le=200),
) -> dict[str, Any]:
    rt = runtime_of(request)
    assert rt.engine is not None and rt.access_log is not None
    async with rt.engine.connect() as conn:
        rows = await conn.execute(
            select(complaints)
            .where(complaints.c.about_user != principal.user)  # never the accused's own
            .order_by(complaints.c.filed_at.desc())
            .offset((page - 1) * page_size)
            .limit(page_size)
        )
        items = [dict(r.document) for r in rows]
    await rt.access_log.record(
        principal, "complaint", [i["complaint_id"] for i in items], purpose="intake.complaint.list"
    )
    return {
        "items": items,
        "page": page,
        "page_size": page_size,
        "now": datetime.now(UTC).isoformat(),
    }
