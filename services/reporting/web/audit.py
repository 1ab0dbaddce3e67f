"""The auditor's API: a case's history as of any moment, and who read which record."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BeforeValidator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.reporting.app.verification import Verifications
from services.reporting.read.audit_index import access_table, case_candidates, indexed_up_to
from services.reporting.web.answers import (
    AccessPageOut,
    AccessRecordOut,
    CaseHistoryOut,
    VerificationOut,
)
from services.reporting.web.permissions import permissions
from shared.access import AccessLog
from shared.audit_history import assemble_history, format_instant, parse_instant
from shared.auth import Principal
from shared.http import ApiError
from shared.i18n import LocalisedValueError, Message
from shared.pagination import fetch_page
from shared.service import Runtime

router = APIRouter(prefix="/audit", tags=["audit"])

CASE_NOT_FOUND = Message(
    en="No event of the log names this case.",
    fr="Aucun événement du journal ne concerne ce dossier.",
)
NEED_FILTER = Message(
    en="Give a record_id or a user.",
    fr="Indiquez un record_id ou un user.",
)


def _instant(value: object) -> object:
    # Before pydantic's own datetime parsing, which would take a time without an offset and
    # read it in no particular zone; parse_instant refuses it with a reason in both languages.
    return parse_instant(value) if isinstance(value, str) else value


AsOf = Annotated[datetime | None, BeforeValidator(_instant)]
RecordId = Annotated[str, Path(min_length=1, max_length=200)]


def _started(request: Request) -> tuple[AsyncEngine, AccessLog]:
    runtime: Runtime = request.app.state.runtime
    assert runtime.engine is not None and runtime.access_log is not None
    return runtime.engine, runtime.access_log


@router.get("/cases/{case_id}")
async def case_history(
    request: Request,
    case_id: RecordId,
    principal: Annotated[Principal, Depends(permissions.require("audit.case.read"))],
    as_of: Annotated[AsOf, Query(description="RFC 3339; only events up to this instant")] = None,
) -> CaseHistoryOut:
    """Everything the log holds about a case and its children across intake, referral and
    casework, in order; with ``as_of``, the history and state at that instant.

    ``state`` holds, per aggregate (``<context>/<type>/<id>``), its fields as its events
    made them, each event type applying what it means (a fold, not the latest value of each
    field): after a transfer ``agency`` is the new owner, after a stage change ``stage`` is
    the new stage, ``opening_report`` stays the report the case opened from while
    ``reports`` lists every report attached; with the aggregate's ``version``, its
    ``last_event`` and ``updated_at``, and ``not_folded``: events of a type this software
    does not know, shown in ``events`` but left out of the fields. Every record the answer
    shows is recorded as read by the caller."""
    engine, access_log = _started(request)
    async with engine.connect() as conn:
        candidates = await case_candidates(conn, case_id)
        freshness = await indexed_up_to(conn)
    history = assemble_history(case_id, candidates, as_of)
    if history is None:
        raise ApiError(404, "case_not_found", CASE_NOT_FOUND, extra={"case_id": case_id})
    # The history shows the records' data: one access record per record it shows (the case,
    # each child, report and referral, another case of the child, a suggested duplicate).
    purpose = "audit: case history" + (f" as of {format_instant(as_of)}" if as_of else "")
    for kind, ids in history.shown_ids().items():
        await access_log.record(principal, kind, ids, purpose=purpose)
    return CaseHistoryOut(**history.as_dict(), indexed_up_to=freshness)


@router.get("/access")
async def access_records(
    request: Request,
    principal: Annotated[Principal, Depends(permissions.require("audit.access.read"))],
    record_id: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    user: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> AccessPageOut:
    """Who read a record (``record_id``: a case, child, report or referral id), or what a
    user read (``user``), or both; most recent first. ``outcome`` is ``read``, or
    ``refused`` for a request of a record the caller may not see (answered 404)."""
    if record_id is None and user is None:
        # Answered like any invalid query: the field and the reason, in the caller's language.
        raise RequestValidationError(
            [
                {
                    "type": "value_error",
                    "loc": ("query", "record_id"),
                    "msg": NEED_FILTER.en,
                    "input": None,
                    "ctx": {"error": LocalisedValueError(NEED_FILTER)},
                }
            ]
        )
    engine, _ = _started(request)
    t = access_table
    where = []
    if record_id is not None:
        where.append(t.c.record_id == record_id)
    if user is not None:
        where.append(t.c.user_id == user)
    async with engine.connect() as conn:
        rows, total = await fetch_page(
            conn,
            select(t).where(*where),
            t.c.read_at.desc(),
            t.c.seq.desc(),
            offset=(page - 1) * page_size,
            limit=page_size,
        )
        freshness = await indexed_up_to(conn)
    return AccessPageOut(
        items=[
            AccessRecordOut(
                read_at=format_instant(r.read_at),
                user=r.user_id,
                agency=r.agency,
                role=r.role,
                service=r.service,
                record_type=r.record_type,
                record_id=r.record_id,
                purpose=r.purpose,
                outcome=r.outcome,
                event_id=r.event_id,
                seq=r.seq,
            )
            for r in rows
        ],
        page=page,
        page_size=page_size,
        total=total,
        next_page=page + 1 if page * page_size < total else None,
        indexed_up_to={k: v for k, v in freshness.items() if k == "AUDIT"},
    )


# -- audit verify, on demand -------------------------------------------------------------------

NO_VERIFICATION = Message(
    en="No verification has run yet: start one.",
    fr="Aucune vérification n'a encore tourné : lancez-en une.",
)


def _verifications(request: Request) -> Verifications:
    found = getattr(request.app.state, "verifications", None)
    if found is None:
        engine = request.app.state.runtime.engine
        found = request.app.state.verifications = Verifications(engine=engine)
    assert isinstance(found, Verifications)
    return found


@router.post("/verifications", status_code=202)
async def start_verification(
    request: Request,
    response: Response,
    principal: Annotated[Principal, Depends(permissions.require("audit.verify"))],
) -> VerificationOut:
    """Run ``relais audit verify`` over every stream (chains, signatures, gaps, checkpoints),
    in the background; the answer is the run, already running (or the one that was)."""
    runtime: Runtime = request.app.state.runtime
    assert runtime.nc is not None
    run = _verifications(request).start(runtime.nc, runtime.settings.site, principal.user)
    response.headers["Location"] = "/audit/verifications/latest"
    return VerificationOut(**run.as_dict())


@router.get("/verifications/latest")
async def latest_verification(
    request: Request,
    principal: Annotated[Principal, Depends(permissions.require("audit.verify"))],
) -> VerificationOut:
    """The run in progress on this instance, with its progress; else the latest finished run,
    stored in reporting's database (it survives a restart)."""
    run = await _verifications(request).latest_run()
    if run is None:
        raise ApiError(404, "no_verification", NO_VERIFICATION)
    return VerificationOut(**run)
