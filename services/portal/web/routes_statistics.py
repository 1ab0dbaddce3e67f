"""Statisticians (and the other readers of statistics): the indicators with their filters and
breakdowns, a chart, the table with suppressed cells shown as reporting hides them (``<5``,
``x``) and the legend, the stream positions the figures were computed up to, and downloads as
CSV and XLSX made by reporting itself. A read-only screen: its form is a GET."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from services.portal.web import statistics_view as view
from services.portal.web.calling import call, failed_read
from services.portal.web.i18n import _
from services.portal.web.pages import forbidden, page
from services.portal.web.security import signed_in

router = APIRouter()
READERS = ("statistician", "supervisor", "unit_coordinator", "agency_admin", "oversight", "auditor")
MAX_FILTER_VALUES = 20
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOWNLOADS = {"csv": "text/csv", "xlsx": XLSX}


def _question(request: Request, catalogue: dict[str, Any]) -> tuple[dict[str, Any], list[Any]]:
    """The indicator and the parameters to ask reporting, from the screen's query string
    (only what the indicator allows is passed on)."""
    q = request.query_params
    indicators = {i["code"]: i for i in catalogue.get("indicators", []) if isinstance(i, dict)}
    indicator = indicators.get(q.get("indicator", ""))
    if indicator is None:
        return {}, []
    params: list[Any] = []
    for name in ("from", "to"):
        if q.get(name):
            params.append((name, q[name][:10]))
    if q.get("period") in indicator.get("periods", []):
        params.append(("period", q["period"]))
    by = [v for v in (q.get("by"), q.get("by2")) if v in indicator.get("breakdowns", [])]
    for value in dict.fromkeys(by):
        params.append(("by", value))
    for name in indicator.get("filters", []):
        if q.get(name):
            params.append((name, q[name][:100]))
    return indicator, params


@router.get("/statistics", response_class=HTMLResponse)
async def statistics(request: Request) -> Response:
    viewer = await signed_in(request)
    if not viewer.has(*READERS):
        return forbidden(request, viewer)
    listed = await call(request, viewer, "reporting", "GET", "/statistics")
    if not listed.ok:
        return failed_read(request, viewer, listed)
    catalogue = listed.data
    indicator, params = _question(request, catalogue)
    answer: dict[str, Any] = {}
    problem: list[tuple[str, str]] = []
    if indicator:
        found = await call(
            request, viewer, "reporting", "GET", f"/statistics/{indicator['code']}", params=params
        )
        if found.ok:
            answer = found.data
        elif found.status == 422:
            problem = list(found.field_errors().items()) or [("", found.message)]
        else:
            return failed_read(request, viewer, found)
    dimensions = {d["code"]: d for d in catalogue.get("dimensions", []) if isinstance(d, dict)}
    filters = [
        (
            code,
            view.localised(dimensions[code]["label"]),
            [(v["code"], view.localised(v["label"])) for v in dimensions[code]["values"]],
        )
        for code in (indicator or {}).get("filters", [])
        if code in dimensions
        and dimensions[code].get("values")
        and len(dimensions[code]["values"]) <= MAX_FILTER_VALUES
    ]
    header, lines = view.lines(answer) if answer else ([], [])
    query = urlencode([("indicator", indicator.get("code", "")), *params]) if indicator else ""
    return page(
        request,
        "statistics/index.html",
        viewer,
        title=_("Statistics"),
        indicators=[
            (i["code"], view.localised(i["label"])) for i in catalogue.get("indicators", [])
        ],
        indicator=indicator,
        q=request.query_params,
        periods=[(p, period_name(p)) for p in (indicator or {}).get("periods", [])],
        breakdowns=[
            (b, view.localised(dimensions[b]["label"]) if b in dimensions else b)
            for b in (indicator or {}).get("breakdowns", [])
        ],
        filters=filters,
        answer=answer,
        header=header,
        lines=lines,
        # Every text in the drawing is escaped by chart_svg itself.
        chart=Markup(view.chart_svg(answer)) if answer else "",  # noqa: S704
        shown=view.shown,
        hidden_marks=view.HIDDEN_MARKS,
        legend=[
            (mark, view.localised(text))
            for mark, text in (answer.get("suppression", {}).get("legend") or {}).items()
        ],
        streams=sorted((answer.get("freshness", {}).get("streams") or {}).items()),
        computed_at=answer.get("freshness", {}).get("computed_at", ""),
        problem=problem,
        query=query,
        describe=view.localised,
    )


def period_name(code: str) -> str:
    names = {"day": _("By day"), "month": _("By month"), "quarter": _("By quarter")}
    return names.get(code, _("By year") if code == "year" else code)


@router.get("/statistics/download.{kind}")
async def download(kind: str, request: Request) -> Response:
    viewer = await signed_in(request)
    if not viewer.has(*READERS):
        return forbidden(request, viewer)
    if kind not in DOWNLOADS:
        return forbidden(request, viewer)
    listed = await call(request, viewer, "reporting", "GET", "/statistics")
    if not listed.ok:
        return failed_read(request, viewer, listed)
    indicator, params = _question(request, listed.data)
    if not indicator:
        return forbidden(request, viewer)
    found = await call(
        request,
        viewer,
        "reporting",
        "GET",
        f"/statistics/{indicator['code']}",
        params=params,
        accept=DOWNLOADS[kind],
    )
    if not found.ok:
        return failed_read(request, viewer, found)
    keep = ("content-type", "content-disposition", "relais-freshness", "relais-computed-at")
    return Response(found.content, headers={k: v for k, v in found.headers.items() if k in keep})
