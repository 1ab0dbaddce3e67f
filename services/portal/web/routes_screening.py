"""Screeners: the queue by deadline, a report with its children and their possible
duplicates, the screening form (decision, urgency, where the case goes), and two child records
side by side to confirm or reject a suggested duplicate."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.portal.app.api import Answer
from services.portal.web import choices, places
from services.portal.web.calling import call, failed_read
from services.portal.web.context import Viewer
from services.portal.web.forms import FormState
from services.portal.web.i18n import _, when
from services.portal.web.pages import forbidden, not_found, page
from services.portal.web.security import SignInRequired, posted, signed_in

router = APIRouter()
SCREENERS = ("screener", "supervisor")
LINKERS = ("intake_officer", "screener", "supervisor")
READERS = ("hotline_operator", "intake_officer", "screener", "supervisor", "auditor")
OPEN = ("received", "more_information")
REFERRAL_PAGE = 100  # the most referral's directory lists in one page
SCREENING_FIELDS = (
    "decision",
    "urgency",
    "rationale",
    "redirect_to",
    "receiving_agency",
    "receiving_unit",
)
ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")


def valid_id(value: str) -> bool:
    return 0 < len(value) <= 64 and set(value) <= ID_CHARS


def late(report: dict[str, Any]) -> bool:
    return bool(report.get("overdue") or report.get("rescreen_overdue"))


def _due(report: dict[str, Any]) -> str:
    if report.get("status") == "more_information" and report.get("rescreen_by"):
        return str(report["rescreen_by"])
    return str(report.get("deadline") or "")


@router.get("/screening", response_class=HTMLResponse)
async def queue(request: Request) -> Response:
    viewer = await signed_in(request)
    if not viewer.has(*SCREENERS):
        return forbidden(request, viewer)
    answers = await asyncio.gather(
        *(
            call(
                request,
                viewer,
                "intake",
                "GET",
                "/reports",
                params={"status": status, "page_size": 200},
            )
            for status in OPEN
        )
    )
    for answer in answers:
        if not answer.ok:
            return failed_read(request, viewer, answer)
    waiting = [r for a in answers for r in a.data.get("items", []) if isinstance(r, dict)]
    waiting.sort(key=lambda r: (not late(r), _due(r)))
    return page(
        request,
        "reports/queue.html",
        viewer,
        title=_("Screening queue"),
        reports=waiting,
        due=_due,
        late=late,
        status_label=choices.report_status,
        place=places.label_of,
        done=request.query_params.get("done", ""),
    )


async def _children(request: Request, viewer: Viewer, report: dict[str, Any]) -> list[Any]:
    """Each child of the report with its record's suggested duplicates (if the role reads
    child records)."""
    described = [c for c in report.get("document", {}).get("children", []) if isinstance(c, dict)]
    if not viewer.has(*READERS):
        return [(c, None) for c in described]
    records = await asyncio.gather(
        *(
            call(request, viewer, "intake", "GET", f"/children/{c['child_id']}")
            for c in described
            if valid_id(str(c.get("child_id", "")))
        )
    )
    return [(c, r.data if r.ok else None) for c, r in zip(described, records, strict=False)]


async def _directory(request: Request, viewer: Viewer, agency: str) -> dict[str, Any]:
    """Agencies and the chosen agency's units, for where the case goes."""
    agencies, units = await asyncio.gather(
        call(request, viewer, "referral", "GET", "/agencies", params={"page_size": REFERRAL_PAGE}),
        call(
            request,
            viewer,
            "referral",
            "GET",
            "/units",
            params={"agency_id": agency, "page_size": REFERRAL_PAGE},
        ),
    )
    return {
        "agencies": [
            (str(a["agency_id"]), str(a.get("name") or a["agency_id"]))
            for a in agencies.data.get("items", [])
            if isinstance(a, dict) and a.get("agency_id")
        ],
        "units": [
            (str(u["unit_id"]), str(u.get("name") or u["unit_id"]))
            for u in units.data.get("items", [])
            if isinstance(u, dict) and u.get("unit_id")
        ],
        "directory_ok": agencies.ok and units.ok,
    }


def changes_since(report: dict[str, Any], seen_at: str) -> list[str]:
    """What happened to a report after ``seen_at``: amendments and a screening, by whom."""
    document = report.get("document", {})
    found = []
    for amendment in document.get("amendments", []):
        if str(amendment.get("at", "")) > seen_at:
            by = amendment.get("by", {}).get("user", "")
            found.append(
                _("Amended by %(who)s at %(at)s", who=by, at=when(str(amendment.get("at"))))
            )
    screening = document.get("screening") or {}
    if str(screening.get("screened_at", "")) > seen_at:
        found.append(
            _(
                "Screened by %(who)s at %(at)s: %(decision)s",
                who=screening.get("by", {}).get("user", ""),
                at=when(str(screening.get("screened_at"))),
                decision=choices.report_status(str(screening.get("decision", ""))),
            )
        )
    return found or [_("Its deadline was flagged, or another detail changed.")]


async def _report_page(
    request: Request,
    viewer: Viewer,
    report_id: str,
    f: FormState | None = None,
    *,
    status: int = 200,
) -> Response:
    answer = await call(request, viewer, "intake", "GET", f"/reports/{report_id}")
    if not answer.ok:
        return failed_read(request, viewer, answer)
    report = answer.data
    screenable = viewer.has(*SCREENERS) and report.get("status") in OPEN
    if f is None:
        f = FormState.of({"urgency": report.get("urgency", "")})
    if not f.value("seen_at"):
        f.values_by_name["seen_at"] = [datetime.now(UTC).isoformat()]
    chosen = f.value("receiving_agency") or viewer.agency
    directory = await _directory(request, viewer, chosen) if screenable else {}
    done = request.query_params.get("done", "")
    if done == "saved" and not f.notice:
        f.notice, f.notice_kind = _("The report is saved."), "ok"
    elif done == "later" and not f.notice:
        f.notice = _("The report is saved. It may take a moment to appear everywhere.")
        f.notice_kind = "ok"
    return page(
        request,
        "reports/show.html",
        viewer,
        status=status,
        title=_("Report"),
        report=report,
        document=report.get("document", {}),
        children=await _children(request, viewer, report),
        f=f,
        screenable=screenable,
        version=report.get("version"),
        decisions=choices.decisions(),
        urgencies=choices.coded("urgencies"),
        status_label=choices.report_status,
        place=places.label_of,
        own_agency=viewer.agency,
        **directory,
    )


@router.get("/reports/{report_id}", response_class=HTMLResponse)
async def show_report(report_id: str, request: Request) -> Response:
    viewer = await signed_in(request)
    if not valid_id(report_id):
        return not_found(request, viewer)
    return await _report_page(request, viewer, report_id)


@router.get("/directory/units", response_class=HTMLResponse)
async def unit_options(request: Request) -> Response:
    """The units of the agency chosen in the screening form (htmx)."""
    viewer = await signed_in(request)
    agency = request.query_params.get("receiving_agency", "") or viewer.agency
    directory = await _directory(request, viewer, agency[:200])
    return page(
        request,
        "reports/_units.html",
        viewer,
        f=FormState.of(),
        units=directory["units"],
    )


def screening_body(f: FormState, own_agency: str) -> tuple[dict[str, Any], dict[str, str]]:
    errors: dict[str, str] = {}
    body: dict[str, Any] = {}
    decision, urgency, rationale = f.value("decision"), f.value("urgency"), f.value("rationale")
    if not decision:
        errors["decision"] = _("Choose a decision.")
    if not urgency:
        errors["urgency"] = _("Choose the urgency.")
    if len(rationale.strip()) < 3:
        errors["rationale"] = _("Say in a few words why.")
    body.update(decision=decision, urgency=urgency, rationale=rationale.strip())
    if decision == "redirect" and f.value("redirect_to"):
        body["redirect_to"] = f.value("redirect_to")
    # Where the case goes: sent only when it is not the screener's own agency as a whole
    # (a service that does not route yet refuses the fields, and says so beside them).
    agency, unit = f.value("receiving_agency"), f.value("receiving_unit")
    if unit or (agency and agency != own_agency):
        body["receiving_agency"] = agency or own_agency
        if unit:
            body["receiving_unit"] = unit
    return body, errors


@router.post("/reports/{report_id}/screening", response_class=HTMLResponse)
async def screen(report_id: str, request: Request) -> Response:
    p = await posted(request)
    viewer = p.viewer
    if not valid_id(report_id):
        return not_found(request, viewer)
    if not viewer.has(*SCREENERS):
        return forbidden(request, viewer)
    f = FormState.of(p.form, idem=p.idempotency_key)
    if p.review:
        return await _report_page(request, viewer, report_id, f)
    body, errors = screening_body(f, viewer.agency)
    if errors:
        f.errors.update(errors)
        return await _report_page(request, viewer, report_id, f, status=422)
    # The version the screener saw travels as If-Match, never in the body.
    version = f.value("version")
    answer = await call(
        request,
        viewer,
        "intake",
        "POST",
        f"/reports/{report_id}/screening",
        json=body,
        if_match=int(version) if version.isdigit() else None,
        idempotency_key=f.idem,
    )
    if answer.ok:
        return RedirectResponse(
            f"/screening?done={'later' if answer.later else 'screened'}", status_code=303
        )
    return await _refused(request, viewer, report_id, f, answer, p.form)


async def _refused(
    request: Request, viewer: Viewer, report_id: str, f: FormState, answer: Answer, form: Any
) -> Response:
    if answer.status == 401:
        raise SignInRequired(expired=True, form=form, account=viewer.user)
    if answer.status == 404:
        return not_found(request, viewer)
    if answer.status == 403:
        return forbidden(request, viewer)
    if answer.status in (502, 503, 504) or answer.unreachable:
        f.unreachable(answer)
        return await _report_page(request, viewer, report_id, f, status=503)
    if answer.status == 409 and answer.code == "version_conflict":
        current = await call(request, viewer, "intake", "GET", f"/reports/{report_id}")
        what = changes_since(current.data, f.value("seen_at")) if current.ok else []
        f.notice_kind = "warn"
        f.notice = _(
            "Someone changed this report while you were reading it: %(what)s. What you typed is "
            "kept below; check the report again, then save.",
            what="; ".join(what),
        )
        f.values_by_name["version"] = [str(current.data.get("version", ""))]
        f.values_by_name["seen_at"] = [datetime.now(UTC).isoformat()]
        return await _report_page(request, viewer, report_id, f, status=409)
    f.refused(answer, SCREENING_FIELDS, {})
    return await _report_page(request, viewer, report_id, f, status=422)
