"""Child records: search, read, correct, and suggested duplicates (confirm, reject)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from sqlalchemy import select

from contracts.intake import ChildDetailsCorrected, ChildRecorded, DuplicateSuggested
from services.intake.app import recording
from services.intake.app.aggregates import actor_of, aggregate, load
from services.intake.config import name_knowledge
from services.intake.domain import CorrectChild, ResolveDuplicate, child_state, decide_child
from services.intake.domain.matching import name_agreement, profile, query_keys
from services.intake.read import children, links, suggestions
from services.intake.web.common import ID_PATTERN, not_found, runtime_of, suggestion_view
from services.intake.web.permissions import permissions
from services.intake.web.schemas import CorrectionIn, ResolutionIn
from services.intake.web.scope import children_visible_to
from shared.access import sees_agency
from shared.auth import Principal
from shared.http import idempotency_key
from shared.service import Runtime

router = APIRouter(tags=["children"])
SEARCH_GATE = 0.7  # names at least this alike are shown
ChildId = Annotated[str, Path(pattern=ID_PATTERN)]


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
        "case_id": row.case_id,
        "agency": row.agency,
        "commune": row.commune,
        "received_at": row.received_at.isoformat(),
        "details": dict(row.details),  # as it now reads, corrections applied
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
    k = name_knowledge()
    wanted = k.parts(name)
    probe = profile(
        k,
        "search",
        name=name,
        alias=None,
        sex=sex or "unknown",
        born=None,
        commune="unknown",
        year=datetime.now(UTC).year,
    )
    keys = query_keys(k, probe)
    assert rt.engine is not None and rt.access_log is not None
    query = select(children).where(
        children.c.block_keys.overlap(keys), children_visible_to(principal)
    )
    if sex:
        query = query.where(children.c.sex == sex)
    async with rt.engine.connect() as conn:
        rows = (await conn.execute(query.order_by(children.c.received_at.desc()).limit(500))).all()
    scored = []
    for row in rows:
        names = [n for n in (row.details.get("name"), row.details.get("alias")) if n]
        best = max((name_agreement(k, wanted, k.parts(n)) for n in names), default=0.0)
        if best >= SEARCH_GATE:
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
    """A child record as it now reads: for its agency's intake roles, for every reader of
    the agency whose case holds the child (case workers included), and for auditors."""
    rt = runtime_of(request)
    assert rt.engine is not None and rt.access_log is not None
    async with rt.engine.connect() as conn:
        row = (
            await conn.execute(
                select(children, children_visible_to(principal).label("visible")).where(
                    children.c.child_id == child_id
                )
            )
        ).first()
        if row is None:
            raise not_found()
        if not row.visible:
            # Answered as missing, and on the record: someone asked for a child not theirs.
            await rt.access_log.record(
                principal, "child", [child_id], purpose="intake.child.read", outcome="refused"
            )
            raise not_found()
        sugg = await conn.execute(select(suggestions).where(suggestions.c.child_id == child_id))
        linked = await conn.execute(select(links.c.other_id).where(links.c.child_id == child_id))
        view = {
            **_child_view(row),
            "suggested_duplicates": [
                {
                    "candidate_id": s.candidate_id,
                    "score": s.score,
                    "status": s.status,
                    "reasons": list(s.reasons),
                    "explanation": dict(s.explanation),
                    "weights_id": s.weights_id,
                }
                for s in sugg
            ],
            "linked": [r.other_id for r in linked],
            "corrections": list(row.corrections),
            # Corrections a case worker sent that intake could not apply, and why.
            "refused_corrections": list(row.refusals),
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


@router.post("/children/{child_id}/corrections")
async def correct_child(
    child_id: ChildId,
    body: CorrectionIn,
    request: Request,
    principal: Annotated[Principal, Depends(permissions.require("child.correct"))],
) -> dict[str, Any]:
    rt = runtime_of(request)
    agg = aggregate(rt, "child", child_id)
    state, version = await load(rt, agg, child_state)
    if not state.exists or state.details is None or not sees_agency(principal, state.agency):
        raise not_found()
    changes = body.changes.record_changes()
    found = await recording.correction_matches(rt, state, changes)
    events = decide_child(state, CorrectChild(changes, body.reason, found))
    expected = body.version if body.version is not None else version
    result = await rt.commit(
        agg, expected, events, actor=actor_of(principal), idempotency_key=idempotency_key(request)
    )
    first = result.events[0].event
    assert isinstance(first, ChildDetailsCorrected)
    return {
        "child_id": child_id,
        "fields": first.fields,
        "version": result.head.seq,
        "suggested_duplicates": [
            suggestion_view(e)
            for r in result.events
            if isinstance(e := r.event, DuplicateSuggested)
        ],
    }
