"""Periodic statistical reports: the agency administrator defines them (a title in French and
English, the period, the deadline in days, up to three tables: an indicator and its
breakdowns), sees the editions reporting published (each downloadable as CSV or XLSX, with
its deadline kept or missed) and retires one with a reason. Statisticians and the other
readers of statistics see the list and the editions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.portal.web import statistics_view as view
from services.portal.web.calling import call, failed_read
from services.portal.web.context import Viewer
from services.portal.web.forms import FormState
from services.portal.web.i18n import _
from services.portal.web.pages import forbidden, not_found, page
from services.portal.web.routes_statistics import DOWNLOADS, READERS
from services.portal.web.security import SignInRequired, posted, signed_in

router = APIRouter()
ADMIN = "agency_admin"
TABLES = 3
KINDS = ("month", "quarter", "year")


def kind_name(code: str) -> str:
    return {"month": _("Monthly"), "quarter": _("Quarterly"), "year": _("Yearly")}.get(code, code)


async def _page(
    request: Request,
    viewer: Viewer,
    define: FormState | None = None,
    retire: dict[str, FormState] | None = None,
    status: int = 200,
) -> Response:
    listed = await call(request, viewer, "reporting", "GET", "/statistics/reports")
    if not listed.ok:
        return failed_read(request, viewer, listed)
    catalogue = await call(request, viewer, "reporting", "GET", "/statistics")
    if not catalogue.ok:
        return failed_read(request, viewer, catalogue)
    indicators = [
        (i["code"], view.localised(i["label"]))
        for i in catalogue.data.get("indicators", [])
        if isinstance(i, dict) and i.get("measure") != "availability"
    ]
    dimensions = [
        (d["code"], view.localised(d["label"]))
        for d in catalogue.data.get("dimensions", [])
        if isinstance(d, dict) and d.get("code") != "period"
    ]
    return page(
        request,
        "statistics/reports.html",
        viewer,
        status=status,
        title=_("Periodic reports"),
        items=[i for i in listed.data.get("items", []) if isinstance(i, dict)],
        may_define=viewer.has(ADMIN),
        f=define or FormState.of(),
        retire=retire or {},
        kinds=[(k, kind_name(k)) for k in KINDS],
        kind_name=kind_name,
        indicators=indicators,
        dimensions=dimensions,
        tables=range(TABLES),
        describe=view.localised,
        new_form=lambda definition_id: FormState(scope=f"r{definition_id[:8]}-"),
        done=request.query_params.get("done", ""),
    )


@router.get("/statistical-reports", response_class=HTMLResponse)
async def reports(request: Request) -> Response:
    viewer = await signed_in(request)
    if not viewer.has(*READERS):
        return forbidden(request, viewer)
    return await _page(request, viewer)


def _definition(p: Any, f: FormState) -> dict[str, Any]:
    items = []
    for n in range(TABLES):
        indicator = p.get(f"items.{n}.indicator")
        if indicator:
            by = [b for b in dict.fromkeys(p.all(f"items.{n}.by")) if b][:3]
            items.append({"indicator": indicator, "by": by})
    for name, text in (
        ("title_fr", _("Give the title in French.")),
        ("title_en", _("Give the title in English.")),
    ):
        if not p.get(name):
            f.add(name, text)
    if p.get("period_kind") not in KINDS:
        f.add("period_kind", _("Choose how often the report is published."))
    if not p.get("due_days").isdigit():
        f.add("due_days", _("Give the number of days after the period's end (0 to 366)."))
    if not items:
        f.add("items.0.indicator", _("Choose at least one indicator."))
    body: dict[str, Any] = {
        "title_fr": p.get("title_fr"),
        "title_en": p.get("title_en"),
        "period_kind": p.get("period_kind"),
        "due_days": int(p.get("due_days")) if p.get("due_days").isdigit() else 0,
        "items": items,
    }
    if p.get("first_period"):
        body["first_period"] = p.get("first_period")
    return body


TABLE_FIELDS = tuple(f"items.{n}.{k}" for n in range(TABLES) for k in ("indicator", "by"))
FIELDS = ("title_fr", "title_en", "period_kind", "due_days", "first_period", *TABLE_FIELDS)


@router.post("/statistical-reports", response_class=HTMLResponse)
async def define(request: Request) -> Response:
    p = await posted(request)
    viewer = p.viewer
    if not viewer.has(ADMIN):
        return forbidden(request, viewer)
    f = FormState.of(p.form, idem=p.idempotency_key)
    body = _definition(p, f)
    if f.has_errors:
        return await _page(request, viewer, define=f, status=422)
    answer = await call(
        request,
        viewer,
        "reporting",
        "POST",
        "/statistics/reports",
        json=body,
        idempotency_key=f.idem,
    )
    if answer.ok:
        return RedirectResponse("/statistical-reports?done=defined", status_code=303)
    if answer.status == 401:
        raise SignInRequired(expired=True, form=p.form, account=viewer.user)
    if answer.status in (502, 503, 504) or answer.unreachable:
        f.unreachable(answer)
        return await _page(request, viewer, define=f, status=503)
    if answer.status == 403:
        return failed_read(request, viewer, answer)
    f.refused(answer, FIELDS, {})
    return await _page(request, viewer, define=f, status=422)


@router.post("/statistical-reports/{definition_id}/retirement", response_class=HTMLResponse)
async def retire(definition_id: str, request: Request) -> Response:
    p = await posted(request)
    viewer = p.viewer
    if not viewer.has(ADMIN):
        return forbidden(request, viewer)
    if not 0 < len(definition_id) <= 100:
        return not_found(request, viewer)
    f = FormState.of(p.form, idem=p.idempotency_key)
    f.scope = f"r{definition_id[:8]}-"
    if not p.get("reason"):
        f.add("reason", _("Say why the report ends."))
        return await _page(request, viewer, retire={definition_id: f}, status=422)
    body: dict[str, Any] = {"reason": p.get("reason")}
    if p.get("last_period"):
        body["last_period"] = p.get("last_period")
    version = p.get("version")
    answer = await call(
        request,
        viewer,
        "reporting",
        "POST",
        f"/statistics/reports/{definition_id}/retirement",
        json=body,
        if_match=int(version) if version.isdigit() else None,
        idempotency_key=f.idem,
    )
    if answer.ok:
        return RedirectResponse("/statistical-reports?done=retired", status_code=303)
    if answer.status == 401:
        raise SignInRequired(expired=True, form=p.form, account=viewer.user)
    if answer.status in (403, 404):
        return failed_read(request, viewer, answer)
    if answer.status in (502, 503, 504) or answer.unreachable:
        f.unreachable(answer)
        status = 503
    else:
        f.refused(answer, ("reason", "last_period"), {})
        status = 422
    return await _page(request, viewer, retire={definition_id: f}, status=status)


@router.get("/statistical-reports/{definition_id}/{period}.{kind}")
async def edition(definition_id: str, period: str, kind: str, request: Request) -> Response:
    """A published edition, as reporting made the file."""
    viewer = await signed_in(request)
    if not viewer.has(*READERS):
        return forbidden(request, viewer)
    if kind not in DOWNLOADS or not 0 < len(definition_id) <= 100 or not 4 <= len(period) <= 10:
        return not_found(request, viewer)
    found = await call(
        request,
        viewer,
        "reporting",
        "GET",
        f"/statistics/reports/{definition_id}/{period}",
        accept=DOWNLOADS[kind],
    )
    if not found.ok:
        return failed_read(request, viewer, found)
    keep = ("content-type", "content-disposition")
    return Response(found.content, headers={k: v for k, v in found.headers.items() if k in keep})
