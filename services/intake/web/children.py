"""Child records: search, read, correct, and suggested duplicates (confirm, reject)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from sqlalchemy import select

from contracts.intake import ChildDetailsCorrected, DuplicateSuggested
from services.intake.app import children as child_commands
from services.intake.config import name_knowledge
from services.intake.domain import ChildState
from services.intake.domain.matching import name_agreement, profile, query_keys
from services.intake.read import child_keys, children, links, suggestions
from services.intake.web.common import ID_PATTERN, not_found, runtime_of, suggestion_view
from services.intake.web.permissions import permissions
from services.intake.web.schemas import (
    ChildRecordOut,
    ChildSearchOut,
    CorrectionIn,
    CorrectionOut,
    FoundChildOut,
    ResolutionIn,
    ResolutionOut,
    SuggestionOut,
    SuggestionStatusOut,
)
from services.intake.web.scope import children_visible_to
from shared.access import sees_agency
from shared.auth import Principal
from shared.command_http import actor_of, command_key, seen, tag

router = APIRouter(tags=["children"])
SEARCH_GATE = 0.7  # names at least this alike are shown
ChildId = Annotated[str, Path(pattern=ID_PATTERN)]


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
) -> ChildSearchOut:
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
    # The matcher's index (decision 0032): children with any of the keys, by index lookups.
    indexed = select(child_keys.c.child_id).where(child_keys.c.key.in_(keys))
    query = select(children).where(children.c.child_id.in_(indexed), children_visible_to(principal))
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
    items = [FoundChildOut(**_child_view(r), score=round(s, 3)) for s, r in scored[:page_size]]
    await rt.access_log.record(
        principal, "child", [i.child_id for i in items], purpose="intake.child.search"
    )
    return ChildSearchOut(items=items)


@router.get("/children/{child_id}")
async def read_child(
    child_id: ChildId,
    request: Request,
    response: Response,
    principal: Annotated[Principal, Depends(permissions.require("child.read"))],
) -> ChildRecordOut:
    """A child record as it now reads: for its agency's intake roles, for every reader of
    the agency whose case holds the child (case workers included), and for auditors. Its
    ``ETag`` is the version a command on it sends in ``If-Match``."""
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
        view = ChildRecordOut(
            **_child_view(row),
            suggested_duplicates=[
                SuggestionStatusOut(
                    candidate_id=s.candidate_id,
                    score=s.score,
                    status=s.status,
                    reasons=list(s.reasons),
                    explanation=dict(s.explanation),
                    weights_id=s.weights_id,
                )
                for s in sugg
            ],
            linked=[r.other_id for r in linked],
            corrections=list(row.corrections),
            refused_corrections=list(row.refusals),
        )
    await rt.access_log.record(principal, "child", [child_id], purpose="intake.child.read")
    tag(response, row.version)
    return view


def _visible_to(principal: Principal) -> Callable[[ChildState], bool]:
    return lambda state: state.exists and sees_agency(principal, state.agency)


async def _resolve(
    request: Request,
    response: Response,
    principal: Principal,
    child_id: str,
    candidate_id: str,
    confirm: bool,
    body: ResolutionIn | None,
) -> ResolutionOut:
    expect = seen(request)
    outcome = await child_commands.resolve_duplicate(
        runtime_of(request),
        child_id,
        candidate_id,
        confirm=confirm,
        note=body.note if body else None,
        expect=expect,
        actor=actor_of(principal),
        key=command_key(request, principal),
        visible=_visible_to(principal),
    )
    tag(response, outcome.version)
    return ResolutionOut(
        child_id=child_id,
        candidate_id=candidate_id,
        status="confirmed" if confirm else "rejected",
        version=outcome.version,
    )


@router.post("/children/{child_id}/duplicates/{candidate_id}/confirm")
async def confirm_duplicate(
    child_id: ChildId,
    candidate_id: ChildId,
    request: Request,
    response: Response,
    principal: Annotated[Principal, Depends(permissions.require("child.link"))],
    body: ResolutionIn | None = None,
) -> ResolutionOut:
    return await _resolve(request, response, principal, child_id, candidate_id, True, body)


@router.post("/children/{child_id}/duplicates/{candidate_id}/reject")
async def reject_duplicate(
    child_id: ChildId,
    candidate_id: ChildId,
    request: Request,
    response: Response,
    principal: Annotated[Principal, Depends(permissions.require("child.link"))],
    body: ResolutionIn | None = None,
) -> ResolutionOut:
    return await _resolve(request, response, principal, child_id, candidate_id, False, body)


@router.post("/children/{child_id}/corrections")
async def correct_child(
    child_id: ChildId,
    body: CorrectionIn,
    request: Request,
    response: Response,
    principal: Annotated[Principal, Depends(permissions.require("child.correct"))],
) -> CorrectionOut:
    expect = seen(request)
    outcome = await child_commands.correct(
        runtime_of(request),
        child_id,
        changes=body.changes.record_changes(),
        reason=body.reason,
        expect=expect,
        actor=actor_of(principal),
        key=command_key(request, principal),
        visible=lambda state: _visible_to(principal)(state) and state.details is not None,
    )
    first = outcome.events[0].event
    assert isinstance(first, ChildDetailsCorrected)
    tag(response, outcome.version)
    return CorrectionOut(
        child_id=child_id,
        fields=first.fields,
        version=outcome.version,
        suggested_duplicates=[
            SuggestionOut(**suggestion_view(e))
            for r in outcome.events
            if isinstance(e := r.event, DuplicateSuggested)
        ],
    )
