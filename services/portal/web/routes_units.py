"""Unit coordinators: the referral inbox (deadline, overdue, escalated), a referral as the unit
sees it (only what the referrer shared) with accept, decline (a reason, a suggested unit) and
complete; and the unit's own page: its directory entry (service kinds, opening hours, ages and
sexes served) and its capacity, shown and edited, with the places accepted referrals hold."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.portal.app.api import Answer
from services.portal.web import choices, places
from services.portal.web.calling import call, failed_read, refusal
from services.portal.web.context import Viewer
from services.portal.web.forms import FormState
from services.portal.web.i18n import _, label
from services.portal.web.names import names_for
from services.portal.web.pages import forbidden, not_found, page
from services.portal.web.routes_referrals import SHAREABLE, shared_label, status_label
from services.portal.web.routes_screening import valid_id
from services.portal.web.security import Posted, SignInRequired, posted, signed_in

router = APIRouter()
COORDINATOR = "unit_coordinator"
ADMIN = "agency_admin"
ANSWERS = {
    "accept": ("capacity_override_reason",),
    "decline": ("reason", "suggested_unit"),
    "complete": ("outcome",),
}
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
OPEN = ("made", "accepted")


def day_name(code: str) -> str:
    return {
        "mon": _("Monday"),
        "tue": _("Tuesday"),
        "wed": _("Wednesday"),
        "thu": _("Thursday"),
        "fri": _("Friday"),
        "sat": _("Saturday"),
        "sun": _("Sunday"),
    }.get(code, code)


def _urgent_first(r: dict[str, Any]) -> tuple[bool, bool, str]:
    return (not r.get("escalated"), not r.get("overdue"), str(r.get("due_at") or "9999"))


async def _inbox_rows(request: Request, viewer: Viewer) -> Answer:
    return await call(request, viewer, "referral", "GET", "/referrals", params={"page_size": 100})


@router.get("/inbox", response_class=HTMLResponse)
async def inbox(request: Request) -> Response:
    viewer = await signed_in(request)
    if not viewer.has(COORDINATOR):
        return forbidden(request, viewer)
    answer = await _inbox_rows(request, viewer)
    if not answer.ok:
        return failed_read(request, viewer, answer)
    items = [r for r in answer.data.get("items", []) if isinstance(r, dict)]
    items.sort(key=_urgent_first)
    names = await names_for(request, viewer, agencies=(r.get("from_agency") for r in items))
    return page(
        request,
        "units/inbox.html",
        viewer,
        title=_("Referral inbox"),
        waiting=[r for r in items if r.get("status") == "made"],
        accepted=[r for r in items if r.get("status") == "accepted"],
        closed=[r for r in items if r.get("status") not in OPEN][:20],
        status_label=status_label,
        names=names,
    )


async def _referral_page(
    request: Request,
    viewer: Viewer,
    referral_id: str,
    forms: dict[str, FormState] | None = None,
    *,
    status: int = 200,
) -> Response:
    answer = await call(request, viewer, "referral", "GET", f"/referrals/{referral_id}")
    if not answer.ok:
        return failed_read(request, viewer, answer)
    referral = answer.data
    units = await call(
        request,
        viewer,
        "referral",
        "GET",
        "/units",
        params={"service_kind": referral.get("service_kind", ""), "page_size": 100},
    )
    suggestions = [
        (str(u["unit_id"]), f"{u.get('name') or u['unit_id']} · {places.label_of(u['commune'])}")
        for u in units.data.get("items", [])
        if isinstance(u, dict) and u.get("unit_id") not in (None, referral.get("to_unit"))
    ]
    forms = dict(forms or {})
    for kind in ANSWERS:
        forms.setdefault(kind, FormState.of()).scope = f"{kind}-"
    shared = []
    for name in SHAREABLE:
        if name in referral:
            value = referral[name]
            if name == "concerns":
                value = ", ".join(label("concerns", c) for c in value or [])
            elif name == "child_sex":
                value = label("sexes", value)
            elif name == "urgency":
                value = label("urgencies", value)
            shared.append((shared_label(name), value or ""))
    names = await names_for(
        request,
        viewer,
        agencies=[referral.get("from_agency")],
        units=[referral.get("suggested_unit")],
    )
    return page(
        request,
        "units/referral.html",
        viewer,
        status=status,
        title=_("Referral"),
        r=referral,
        version=answer.version,
        shared=shared,
        fs=forms,
        suggestions=suggestions,
        status_label=status_label,
        names=names,
        done=request.query_params.get("done", ""),
    )


@router.get("/inbox/{referral_id}", response_class=HTMLResponse)
async def show_referral(referral_id: str, request: Request) -> Response:
    viewer = await signed_in(request)
    if not valid_id(referral_id):
        return not_found(request, viewer)
    if not viewer.has(COORDINATOR):
        return forbidden(request, viewer)
    return await _referral_page(request, viewer, referral_id)


@router.post("/inbox/{referral_id}/{answer_kind}", response_class=HTMLResponse)
async def answer_referral(referral_id: str, answer_kind: str, request: Request) -> Response:
    p = await posted(request)
    viewer = p.viewer
    fields = ANSWERS.get(answer_kind)
    if not valid_id(referral_id) or fields is None:
        return not_found(request, viewer)
    if not viewer.has(COORDINATOR):
        return forbidden(request, viewer)
    f = FormState.of(p.form, idem=p.idempotency_key)
    if p.review:
        return await _referral_page(request, viewer, referral_id, {answer_kind: f})
    required = {"decline": "reason", "complete": "outcome"}.get(answer_kind)
    if required and not p.get(required):
        f.add(required, _("Write it: the case worker reads it."))
        return await _referral_page(request, viewer, referral_id, {answer_kind: f}, status=422)
    body = {name: p.get(name) for name in fields if p.get(name)}
    version = p.get("version")
    answer = await call(
        request,
        viewer,
        "referral",
        "POST",
        f"/referrals/{referral_id}/{answer_kind}",
        json=body,
        if_match=int(version) if version.isdigit() else None,
        idempotency_key=f.idem,
    )
    if answer.ok:
        return RedirectResponse(f"/inbox/{referral_id}?done=saved", status_code=303)
    conflict = _(
        "Someone answered or changed this referral while you were reading it: check it "
        "below, then answer again."
    )
    status = refusal(request, p, f, answer, fields, conflict=conflict)
    if isinstance(status, Response):
        return status
    return await _referral_page(request, viewer, referral_id, {answer_kind: f}, status=status)


# -- the unit --------------------------------------------------------------------------------


def hours_text(hours: dict[str, list[str]] | None, code: str) -> str:
    return ", ".join((hours or {}).get(code, []))


def _base(viewer: Viewer, unit_id: str) -> str:
    return (
        "/unit" if viewer.has(COORDINATOR) and viewer.unit == unit_id else f"/admin/units/{unit_id}"
    )


def _may_edit(viewer: Viewer, unit_id: str, unit: dict[str, Any] | None = None) -> bool:
    """Coordinators edit their own unit; agency administrators every unit of their agency."""
    if viewer.has(COORDINATOR) and viewer.unit == unit_id:
        return True
    return viewer.has(ADMIN) and unit is not None and unit.get("agency_id") == viewer.agency


async def _unit_page(
    request: Request,
    viewer: Viewer,
    unit_id: str,
    forms: dict[str, FormState] | None = None,
    *,
    status: int = 200,
) -> Response:
    answer, held = await asyncio.gather(
        call(request, viewer, "referral", "GET", f"/units/{unit_id}"),
        call(request, viewer, "referral", "GET", "/referrals", params={"status": "accepted"}),
    )
    if not answer.ok:
        return failed_read(request, viewer, answer)
    unit = answer.data
    if not _may_edit(viewer, unit_id, unit):
        return not_found(request, viewer)
    capacity = unit.get("capacity") or {}
    by_hand = await call(request, viewer, "referral", "GET", f"/units/{unit_id}/holds")
    hand_holds = [h for h in by_hand.data.get("holds", []) if isinstance(h, dict)]
    today = date.today().isoformat()
    forms = dict(forms or {})
    hold_form = forms.setdefault("hold", FormState.of())
    hold_form.scope = "hold-"
    cap = forms.setdefault("capacity", FormState.of())
    cap.scope = "capacity-"
    cap.values_by_name.setdefault("total", [str(capacity.get("total", 0))])
    cap.values_by_name.setdefault("occupied_outside", [str(capacity.get("occupied_outside", 0))])
    entry = forms.setdefault("entry", FormState.of())
    entry.scope = "entry-"
    defaults = entry.values_by_name
    defaults.setdefault("service_kinds", list(unit.get("service_kinds") or []))
    defaults.setdefault("sexes", list(unit.get("sexes") or []))
    defaults.setdefault("min_age", [str(unit.get("min_age", 0))])
    defaults.setdefault("max_age", [str(unit.get("max_age", 17))])
    defaults.setdefault("languages", [", ".join(unit.get("languages") or [])])
    for code in DAYS:
        defaults.setdefault(f"hours.{code}", [hours_text(unit.get("opening_hours"), code)])
    holding = [
        r for r in held.data.get("items", []) if isinstance(r, dict) and r.get("to_unit") == unit_id
    ]
    names = await names_for(
        request,
        viewer,
        agencies=[unit.get("agency_id"), *(r.get("from_agency") for r in holding)],
    )
    return page(
        request,
        "units/unit.html",
        viewer,
        status=status,
        title=_("My unit"),
        unit=unit,
        capacity=capacity,
        holding=holding,
        names=names,
        hand_holds=hand_holds,
        today=today,
        base=_base(viewer, unit_id),
        fs=forms,
        days=[(code, day_name(code)) for code in DAYS],
        hours_text=hours_text,
        service_kinds=choices.coded("service_kinds"),
        sexes=choices.coded("sexes"),
        place=places.label_of,
        done=request.query_params.get("done", ""),
    )


@router.get("/unit", response_class=HTMLResponse)
async def my_unit(request: Request) -> Response:
    viewer = await signed_in(request)
    if not viewer.has(COORDINATOR):
        return forbidden(request, viewer)
    if not viewer.unit:
        return not_found(request, viewer)
    return await _unit_page(request, viewer, viewer.unit)


@router.get("/admin/units/{unit_id}", response_class=HTMLResponse)
async def agency_unit(unit_id: str, request: Request) -> Response:
    viewer = await signed_in(request)
    if not viewer.has(ADMIN):
        return forbidden(request, viewer)
    if not valid_id(unit_id):
        return not_found(request, viewer)
    return await _unit_page(request, viewer, unit_id)


def _entry_body(unit: dict[str, Any], p: Any) -> dict[str, Any]:
    hours = {}
    for code in DAYS:
        ranges = [r.strip() for r in p.get(f"hours.{code}").split(",") if r.strip()]
        if ranges:
            hours[code] = ranges
    body = {
        name: unit.get(name) for name in ("agency_id", "name", "commune", "supervisor", "hub_id")
    }
    body.update(
        expected_services=list((unit.get("expected_services") or {}).get("kinds") or []),
        service_kinds=p.all("service_kinds"),
        sexes=p.all("sexes"),
        opening_hours=hours,
        languages=[x.strip() for x in p.get("languages").split(",") if x.strip()],
    )
    for name in ("min_age", "max_age"):
        value = p.get(name)
        body[name] = int(value) if value.isdigit() else value
    return body


@router.post("/unit/{part}", response_class=HTMLResponse)
async def edit_my_unit(part: str, request: Request) -> Response:
    p = await posted(request)
    if not p.viewer.has(COORDINATOR) or not p.viewer.unit:
        return forbidden(request, p.viewer)
    return await _edit_unit(request, p, p.viewer.unit, part)


@router.post("/admin/units/{unit_id}/{part}", response_class=HTMLResponse)
async def edit_agency_unit(unit_id: str, part: str, request: Request) -> Response:
    p = await posted(request)
    if not p.viewer.has(ADMIN):
        return forbidden(request, p.viewer)
    if not valid_id(unit_id):
        return not_found(request, p.viewer)
    return await _edit_unit(request, p, unit_id, part)


async def _edit_unit(request: Request, p: Posted, unit_id: str, part: str) -> Response:
    viewer = p.viewer
    if part not in ("capacity", "entry", "hold", "release"):
        return not_found(request, viewer)
    f = FormState.of(p.form, idem=p.idempotency_key)
    if p.review:
        return await _unit_page(request, viewer, unit_id, {part: f})
    version = p.get("version")
    if_match = int(version) if version.isdigit() and int(version) > 0 else None
    method = "PUT"
    body: dict[str, Any] | None
    if part == "hold":
        body = {"note": p.get("note"), "until": p.get("until") or None}
        path = f"/units/{unit_id}/holds"
        method = "POST"
    elif part == "release":
        hold_id = p.get("hold_id")
        if not valid_id(hold_id):
            return not_found(request, viewer)
        body = None
        path = f"/units/{unit_id}/holds/{hold_id}/release"
        method = "POST"
        # The release answers on the hold form's notice, not a form of its own.
        part = "hold"
    elif part == "capacity":
        body = {
            name: int(p.get(name)) if p.get(name).isdigit() else p.get(name)
            for name in ("total", "occupied_outside")
        }
        path = f"/units/{unit_id}/capacity"
    else:
        current = await call(request, viewer, "referral", "GET", f"/units/{unit_id}")
        if not current.ok:
            return failed_read(request, viewer, current)
        body = _entry_body(current.data, p)
        path = f"/units/{unit_id}"
    answer = await call(
        request,
        viewer,
        "referral",
        method,
        path,
        json=body,
        if_match=if_match,
        idempotency_key=f.idem,
    )
    if answer.ok:
        base = _base(viewer, unit_id)
        anchor = "holds" if part == "hold" else part
        return RedirectResponse(f"{base}?done=saved#{anchor}", status_code=303)
    if answer.status == 401:
        raise SignInRequired(expired=True, form=p.form, account=viewer.user)
    if answer.status in (403, 404) and answer.code != "hold_not_found":
        return failed_read(request, viewer, answer)
    status = answer.status
    if status in (502, 503, 504) or answer.unreachable:
        f.unreachable(answer)
        status = 503
    elif status == 409 and answer.code == "version_conflict":
        f.notice_kind = "warn"
        f.notice = _("Someone changed the unit meanwhile: check it below, then save again.")
    else:
        renamed = {"opening_hours": "hours"}
        known: tuple[str, ...] = {
            "capacity": ("total", "occupied_outside"),
            "hold": ("note", "until"),
        }.get(part, ("service_kinds", "sexes", "min_age", "max_age", "languages", "hours"))
        f.refused(answer, known, renamed)
    return await _unit_page(request, viewer, unit_id, {part: f}, status=status)
