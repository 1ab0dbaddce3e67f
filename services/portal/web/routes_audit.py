"""Auditors: a case's history as of any moment (the state and the events up to then), who
read which record and when, and the log's verification (``relais audit verify``) run on
demand through reporting, with its progress. Auditors read; the one thing they start is the
verification, which writes nothing."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.portal.web.calling import call, failed_read
from services.portal.web.context import Viewer, portal_of
from services.portal.web.forms import FormState
from services.portal.web.i18n import _
from services.portal.web.pages import forbidden, page
from services.portal.web.routes_screening import valid_id
from services.portal.web.security import posted, signed_in

router = APIRouter()
AUDITOR = "auditor"


async def _latest(request: Request, viewer: Viewer) -> dict[str, Any] | None:
    answer = await call(request, viewer, "reporting", "GET", "/audit/verifications/latest")
    return answer.data if answer.ok else None


@router.get("/audit", response_class=HTMLResponse)
async def audit_home(request: Request) -> Response:
    viewer = await signed_in(request)
    if not viewer.has(AUDITOR):
        return forbidden(request, viewer)
    return page(
        request,
        "audit/home.html",
        viewer,
        title=_("Audit"),
        run=await _latest(request, viewer),
        f=FormState.of(request.query_params),
    )


def _as_of(request: Request, f: FormState) -> str | None:
    """The moment the auditor asked for, in the country's time zone, as RFC 3339."""
    day, clock = f.value("date"), f.value("time")
    if not day:
        if clock:
            f.add("date", _("Give the day as well as the time."))
        return None
    try:
        moment = datetime.combine(
            date.fromisoformat(day),
            time.fromisoformat(clock) if clock else time(23, 59, 59),
            tzinfo=portal_of(request).config.time_zone,
        )
    except ValueError:
        f.add("date", _("Give a valid day and time."))
        return None
    return moment.isoformat()


@router.get("/audit/case", response_class=HTMLResponse)
async def case_history(request: Request) -> Response:
    viewer = await signed_in(request)
    if not viewer.has(AUDITOR):
        return forbidden(request, viewer)
    f = FormState.of(request.query_params)
    case_id = f.value("case_id")
    if not valid_id(case_id):
        f.add("case_id", _("Give the case's identifier."))
    as_of = _as_of(request, f)
    history: dict[str, Any] = {}
    status = 200
    if not f.has_errors:
        params = {"as_of": as_of} if as_of else None
        answer = await call(
            request, viewer, "reporting", "GET", f"/audit/cases/{case_id}", params=params
        )
        if answer.ok:
            history = answer.data
        elif answer.status in (404, 422):
            f.add("case_id", answer.message or _("No event of the log names this case."))
            status = answer.status
        else:
            return failed_read(request, viewer, answer)
    else:
        status = 422
    return page(
        request,
        "audit/case.html",
        viewer,
        status=status,
        title=_("Case history"),
        f=f,
        h=history,
        as_of=as_of,
    )


@router.get("/audit/access", response_class=HTMLResponse)
async def access(request: Request) -> Response:
    viewer = await signed_in(request)
    if not viewer.has(AUDITOR):
        return forbidden(request, viewer)
    f = FormState.of(request.query_params)
    params = {k: f.value(k)[:200] for k in ("record_id", "user") if f.value(k)}
    items: list[dict[str, Any]] = []
    total = 0
    status = 200
    if not params:
        f.add("record_id", _("Give a record's identifier, a user, or both."))
        status = 422
    else:
        answer = await call(
            request,
            viewer,
            "reporting",
            "GET",
            "/audit/access",
            params={**params, "page_size": 200},
        )
        if not answer.ok:
            return failed_read(request, viewer, answer)
        items = [i for i in answer.data.get("items", []) if isinstance(i, dict)]
        total = int(answer.data.get("total") or 0)
    return page(
        request,
        "audit/access.html",
        viewer,
        status=status,
        title=_("Who read what"),
        f=f,
        items=items,
        total=total,
    )


@router.post("/audit/verification", response_class=HTMLResponse)
async def run_verification(request: Request) -> Response:
    p = await posted(request)
    if not p.viewer.has(AUDITOR):
        return forbidden(request, p.viewer)
    answer = await call(request, p.viewer, "reporting", "POST", "/audit/verifications")
    if not answer.ok:
        return failed_read(request, p.viewer, answer)
    return RedirectResponse("/audit#verification", status_code=303)


@router.get("/audit/verification", response_class=HTMLResponse)
async def verification_progress(request: Request) -> Response:
    """The verification's box alone (htmx asks for it every second while the run lasts)."""
    viewer = await signed_in(request)
    if not viewer.has(AUDITOR):
        return forbidden(request, viewer)
    return page(
        request,
        "audit/_verification.html",
        viewer,
        run=await _latest(request, viewer),
    )
