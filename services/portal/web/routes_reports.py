"""Hotline operators and intake officers: a new report on one screen, the communes'
type-ahead, and "my recent reports"."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from services.portal.read.tables import saved_reports
from services.portal.web import choices, places
from services.portal.web.calling import call, failed_read
from services.portal.web.context import Viewer, portal_of
from services.portal.web.forms import FormState
from services.portal.web.i18n import _
from services.portal.web.pages import forbidden, page
from services.portal.web.report_form import child_indexes, form_fields, read_report, renamed_paths
from services.portal.web.security import SignInRequired, local_now, posted, signed_in

log = logging.getLogger(__name__)
router = APIRouter()
REPORTERS = ("hotline_operator", "intake_officer")


def _new_report_page(
    request: Request, viewer: Viewer, f: FormState, *, status: int = 200
) -> HTMLResponse:
    preloaded = len(places.places()) <= places.PRELOAD_AT_MOST
    return page(
        request,
        "reports/new.html",
        viewer,
        status=status,
        title=_("New report"),
        f=f,
        children=child_indexes(f.values_by_name),
        **_child_options(),
        channels=choices.coded("channels"),
        concerns=choices.concerns(),
        urgencies=choices.coded("urgencies"),
        places_preloaded=preloaded,
        preloaded_places=places.places() if preloaded else (),
    )


def _child_options() -> dict[str, Any]:
    return {
        "sexes": choices.coded("sexes"),
        "school_statuses": choices.school_statuses(),
        "yes_no": choices.yes_no(),
        "vulnerabilities": choices.coded("vulnerabilities"),
    }


@router.get("/reports/new", response_class=HTMLResponse)
async def new_report(request: Request) -> Response:
    viewer = await signed_in(request)
    if not viewer.has(*REPORTERS):
        return forbidden(request, viewer)
    now = local_now(request).strftime("%Y-%m-%dT%H:%M")
    return _new_report_page(
        request, viewer, FormState.of({"received_at": now, "children.0.sex": "unknown"})
    )


@router.get("/reports/new/child", response_class=HTMLResponse)
async def another_child(request: Request) -> Response:
    viewer = await signed_in(request)
    raw = request.query_params.get("index", "1")
    index = min(int(raw), 19) if raw.isdigit() else 1
    return page(
        request,
        "reports/_child_added.html",
        viewer,
        f=FormState.of({f"children.{index}.sex": "unknown"}),
        i=index,
        **_child_options(),
    )


@router.get("/places", response_class=HTMLResponse)
async def place_options(request: Request) -> Response:
    viewer = await signed_in(request)
    query = request.query_params.get("commune", "") or request.query_params.get("q", "")
    return page(request, "reports/_places.html", viewer, found=places.search(query[:100]))


@router.post("/reports/new", response_class=HTMLResponse)
async def save_report(request: Request) -> Response:
    p = await posted(request)
    viewer = p.viewer
    if not viewer.has(*REPORTERS):
        return forbidden(request, viewer)
    f = FormState.of(p.form, idem=p.idempotency_key)
    if p.review:
        return _new_report_page(request, viewer, f)
    if p.get("action") == "add_child":
        # Without scripts the button posts the form: it comes back with one more child.
        more = max(child_indexes(f.values_by_name)) + 1
        f.values_by_name.setdefault(f"children.{more}.sex", ["unknown"])
        return _new_report_page(request, viewer, f)
    read = read_report(f.values_by_name, portal_of(request).config.time_zone)
    if read.errors:
        f.errors.update(read.errors)
        return _new_report_page(request, viewer, f, status=422)
    answer = await call(
        request, viewer, "intake", "POST", "/reports", json=read.body, idempotency_key=f.idem
    )
    if answer.ok:
        report_id = str(answer.data.get("report_id") or "")
        await _remember(request, viewer, report_id)
        log.info("report saved through the portal")
        done = "later" if answer.later else "saved"
        return RedirectResponse(f"/reports/{report_id}?done={done}", status_code=303)
    if answer.status == 401:
        raise SignInRequired(expired=True, form=p.form, account=viewer.user)
    if answer.status == 403:
        return forbidden(request, viewer)
    if answer.status in (502, 503, 504) or answer.unreachable:
        f.unreachable(answer)
        return _new_report_page(request, viewer, f, status=503)
    f.refused(answer, form_fields(f.values_by_name), renamed_paths(f.values_by_name))
    return _new_report_page(request, viewer, f, status=422)


async def _remember(request: Request, viewer: Viewer, report_id: str) -> None:
    if not report_id:
        return
    async with portal_of(request).engine.begin() as conn:
        await conn.execute(
            insert(saved_reports)
            .values(account_id=viewer.user, report_id=report_id, saved_at=datetime.now(UTC))
            .on_conflict_do_nothing()
        )


@router.get("/reports/mine", response_class=HTMLResponse)
async def my_reports(request: Request) -> Response:
    viewer = await signed_in(request)
    if not viewer.has(*REPORTERS):
        return forbidden(request, viewer)
    async with portal_of(request).engine.connect() as conn:
        mine = {
            row.report_id: row.saved_at
            for row in await conn.execute(
                select(saved_reports.c.report_id, saved_reports.c.saved_at)
                .where(saved_reports.c.account_id == viewer.user)
                .order_by(saved_reports.c.saved_at.desc())
                .limit(200)
            )
        }
    # The agency's latest reports, no names in them (a list is not an access record); the
    # ones this person saved first.
    answer = await call(request, viewer, "intake", "GET", "/reports", params={"page_size": 200})
    if not answer.ok:
        return failed_read(request, viewer, answer)
    items = [r for r in answer.data.get("items", []) if isinstance(r, dict)]
    own = [r for r in items if r.get("report_id") in mine]
    missing = [rid for rid in mine if rid not in {r.get("report_id") for r in own}]
    return page(
        request,
        "reports/mine.html",
        viewer,
        title=_("My recent reports"),
        reports=own,
        missing=missing,
        status_label=choices.report_status,
        place=places.label_of,
    )
