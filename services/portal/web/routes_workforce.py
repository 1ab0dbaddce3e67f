"""Agency administrators, beside the users: the agency's units (listed with their places; a
new unit; each unit's page is the coordinator's, in ``routes_units``), its staff (registered
in referral's directory, so assignments can check competencies), each member's IBCR
competency assessments (the latest level per competency of the member's sector framework),
and the training sessions held."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.portal.app.api import Answer
from services.portal.read import accounts as account_rows
from services.portal.web import choices, places
from services.portal.web.calling import call, failed_read, refusal
from services.portal.web.context import Viewer, portal_of
from services.portal.web.forms import FormState
from services.portal.web.i18n import _, localised
from services.portal.web.names import Names, names_for
from services.portal.web.pages import forbidden, not_found, page
from services.portal.web.routes_screening import valid_id
from services.portal.web.routes_units import DAYS, day_name
from services.portal.web.security import Posted, posted, signed_in
from shared.reference import frameworks

router = APIRouter()
ADMIN = "agency_admin"
STAFF_ID = re.compile(r"^[A-Za-z0-9_.@-]{1,200}$")
UNIT_FIELDS: tuple[str, ...] = ("unit_id", "name", "commune", "service_kinds", "sexes", "hours")
UNIT_FIELDS += ("min_age", "max_age")
STAFF_FIELDS = ("staff_id", "unit", "sector", "role", "display_name")
ASSESSMENT_FIELDS = ("competency", "level", "assessor", "assessed_on")
TRAINING_FIELDS = ("held_on", "topic", "trainer", "participants", "sector")


def sectors() -> list[tuple[str, str]]:
    return [(code, localised(label)) for code, label in frameworks().sectors.items()]


def levels() -> list[tuple[str, str]]:
    return [(code, localised(label)) for code, label in frameworks().level_labels.items()]


def competencies_of(sector: str) -> list[tuple[str, str]]:
    return [
        (code, localised(c.label))
        for code, c in frameworks().competencies.items()
        if c.sector == sector
    ]


def items(answer: Answer) -> list[dict[str, Any]]:
    return [i for i in answer.data.get("items", []) if isinstance(i, dict)]


async def _refused(
    request: Request,
    p: Posted,
    f: FormState,
    answer: Answer,
    fields: tuple[str, ...],
    again: Any,
    renamed: dict[str, str] | None = None,
) -> Response:
    """A service's refusal of an administrator's form: the page again with the reasons."""
    status = refusal(request, p, f, answer, fields, renamed)
    if isinstance(status, Response):
        return status
    result: Response = await again(f, status)
    return result


# -- units -----------------------------------------------------------------------------------


async def _units_page(
    request: Request, viewer: Viewer, f: FormState | None = None, status: int = 200
) -> Response:
    answer = await call(
        request,
        viewer,
        "referral",
        "GET",
        "/units",
        params={"agency_id": viewer.agency, "page_size": 100},
    )
    if not answer.ok:
        return failed_read(request, viewer, answer)
    f = f or FormState.of({"min_age": "0", "max_age": "17"})
    return page(
        request,
        "admin/units.html",
        viewer,
        status=status,
        title=_("Units"),
        units=items(answer),
        f=f,
        days=[(code, day_name(code)) for code in DAYS],
        service_kinds=choices.coded("service_kinds"),
        sexes=choices.coded("sexes"),
        communes=[(p.code, p.label) for p in places.places()],
        place=places.label_of,
        done=request.query_params.get("done", ""),
    )


@router.get("/admin/units", response_class=HTMLResponse)
async def units(request: Request) -> Response:
    viewer = await signed_in(request)
    if not viewer.has(ADMIN):
        return forbidden(request, viewer)
    return await _units_page(request, viewer)


@router.post("/admin/units", response_class=HTMLResponse)
async def add_unit(request: Request) -> Response:
    p = await posted(request)
    viewer = p.viewer
    if not viewer.has(ADMIN):
        return forbidden(request, viewer)
    f = FormState.of(p.form, idem=p.idempotency_key)

    async def again(form: FormState, status: int) -> Response:
        return await _units_page(request, viewer, form, status)

    if p.review:
        return await again(f, 200)
    unit_id = p.get("unit_id")
    if not valid_id(unit_id):
        f.add("unit_id", _("Letters, digits and dashes only, like ong-tchala-psy."))
    if not p.get("name"):
        f.add("name", _("Give the unit's name."))
    if f.has_errors:
        return await again(f, 422)
    hours = {}
    for code in DAYS:
        ranges = [r.strip() for r in p.get(f"hours.{code}").split(",") if r.strip()]
        if ranges:
            hours[code] = ranges
    body: dict[str, Any] = {
        "agency_id": viewer.agency,
        "name": p.get("name"),
        "commune": p.get("commune"),
        "service_kinds": p.all("service_kinds"),
        "opening_hours": hours,
        "sexes": p.all("sexes"),
    }
    for name in ("min_age", "max_age"):
        value = p.get(name)
        if value:
            body[name] = int(value) if value.isdigit() else value
    existing = await call(request, viewer, "referral", "GET", f"/units/{unit_id}")
    if existing.ok:
        f.add("unit_id", _("A unit already has this code: choose another."))
        return await again(f, 422)
    answer = await call(
        request,
        viewer,
        "referral",
        "PUT",
        f"/units/{unit_id}",
        json=body,
        idempotency_key=f.idem,
    )
    if answer.ok:
        return RedirectResponse(f"/admin/units/{unit_id}?done=saved", status_code=303)
    return await _refused(request, p, f, answer, UNIT_FIELDS, again, {"opening_hours": "hours"})


# -- staff -----------------------------------------------------------------------------------


async def _staff_page(
    request: Request, viewer: Viewer, f: FormState | None = None, status: int = 200
) -> Response:
    staff, unit_list = await asyncio.gather(
        call(request, viewer, "referral", "GET", "/staff", params={"page_size": 100}),
        call(
            request,
            viewer,
            "referral",
            "GET",
            "/units",
            params={"agency_id": viewer.agency, "page_size": 100},
        ),
    )
    for answer in (staff, unit_list):
        if not answer.ok:
            return failed_read(request, viewer, answer)
    members = items(staff)
    unit_names = Names(
        units={str(u["unit_id"]): str(u.get("name") or u["unit_id"]) for u in items(unit_list)}
    )
    known = {m["staff_id"] for m in members}
    people = await account_rows.of_agency(portal_of(request).engine, viewer.agency)
    return page(
        request,
        "admin/staff.html",
        viewer,
        status=status,
        title=_("Staff"),
        members=members,
        names=unit_names,
        f=f or FormState.of(),
        accounts=[
            (p.account_id, p.display_name or p.email)
            for p in people
            if p.account_id not in known and not p.disabled
        ],
        units=[(str(u["unit_id"]), str(u.get("name") or u["unit_id"])) for u in items(unit_list)],
        sectors=sectors(),
        sector_name=dict(sectors()),
        done=request.query_params.get("done", ""),
    )


@router.get("/admin/staff", response_class=HTMLResponse)
async def staff(request: Request) -> Response:
    viewer = await signed_in(request)
    if not viewer.has(ADMIN):
        return forbidden(request, viewer)
    return await _staff_page(request, viewer)


@router.post("/admin/staff", response_class=HTMLResponse)
async def register_staff(request: Request) -> Response:
    p = await posted(request)
    viewer = p.viewer
    if not viewer.has(ADMIN):
        return forbidden(request, viewer)
    f = FormState.of(p.form, idem=p.idempotency_key)

    async def again(form: FormState, status: int) -> Response:
        return await _staff_page(request, viewer, form, status)

    if p.review:
        return await again(f, 200)
    body = {name: p.get(name) for name in STAFF_FIELDS}
    if not body["display_name"] and valid_id(body["staff_id"]):
        names = await account_rows.names_of(portal_of(request).engine, viewer.agency)
        body["display_name"] = names.get(body["staff_id"], "")
    answer = await call(
        request, viewer, "referral", "POST", "/staff", json=body, idempotency_key=f.idem
    )
    if answer.ok:
        return RedirectResponse("/admin/staff?done=saved", status_code=303)
    return await _refused(request, p, f, answer, STAFF_FIELDS, again)


async def _member_page(
    request: Request,
    viewer: Viewer,
    staff_id: str,
    f: FormState | None = None,
    status: int = 200,
) -> Response:
    answer = await call(request, viewer, "referral", "GET", f"/staff/{staff_id}")
    if not answer.ok:
        return failed_read(request, viewer, answer)
    member = answer.data
    latest: dict[str, dict[str, Any]] = {}
    for done in member.get("assessments") or []:  # in the order they were recorded
        if isinstance(done, dict):
            latest[str(done.get("competency"))] = done
    grid = [
        (code, text, latest.get(code)) for code, text in competencies_of(str(member.get("sector")))
    ]
    level_name = dict(levels())
    names = await names_for(request, viewer, units=[member.get("unit_id")])
    return page(
        request,
        "admin/member.html",
        viewer,
        status=status,
        title=_("Staff member"),
        member=member,
        names=names,
        version=answer.version,
        grid=grid,
        framework=frameworks().name,
        sector_name=dict(sectors()),
        level_name=level_name,
        f=f or FormState.of(),
        competencies=competencies_of(str(member.get("sector"))),
        levels=list(level_name.items()),
        done=request.query_params.get("done", ""),
    )


@router.get("/admin/staff/{staff_id}", response_class=HTMLResponse)
async def member(staff_id: str, request: Request) -> Response:
    viewer = await signed_in(request)
    if not viewer.has(ADMIN):
        return forbidden(request, viewer)
    if not STAFF_ID.match(staff_id):
        return not_found(request, viewer)
    return await _member_page(request, viewer, staff_id)


@router.post("/admin/staff/{staff_id}/assessments", response_class=HTMLResponse)
async def assess(staff_id: str, request: Request) -> Response:
    p = await posted(request)
    viewer = p.viewer
    if not viewer.has(ADMIN):
        return forbidden(request, viewer)
    if not STAFF_ID.match(staff_id):
        return not_found(request, viewer)
    f = FormState.of(p.form, idem=p.idempotency_key)

    async def again(form: FormState, status: int) -> Response:
        return await _member_page(request, viewer, staff_id, form, status)

    if p.review:
        return await again(f, 200)
    version = p.get("version")
    answer = await call(
        request,
        viewer,
        "referral",
        "POST",
        f"/staff/{staff_id}/assessments",
        json={name: p.get(name) for name in ASSESSMENT_FIELDS},
        if_match=int(version) if version.isdigit() else None,
        idempotency_key=f.idem,
    )
    if answer.ok:
        return RedirectResponse(f"/admin/staff/{staff_id}?done=saved", status_code=303)
    if answer.status == 409 and answer.code == "version_conflict":
        f.notice_kind = "warn"
        f.notice = _("The member changed meanwhile: check below, then save again.")
        return await again(f, 409)
    return await _refused(request, p, f, answer, ASSESSMENT_FIELDS, again)


# -- training sessions -------------------------------------------------------------------------


async def _trainings_page(
    request: Request, viewer: Viewer, f: FormState | None = None, status: int = 200
) -> Response:
    sessions, staff = await asyncio.gather(
        call(request, viewer, "referral", "GET", "/trainings", params={"page_size": 100}),
        call(request, viewer, "referral", "GET", "/staff", params={"page_size": 100}),
    )
    for answer in (sessions, staff):
        if not answer.ok:
            return failed_read(request, viewer, answer)
    members = items(staff)
    return page(
        request,
        "admin/trainings.html",
        viewer,
        status=status,
        title=_("Training sessions"),
        sessions=items(sessions),
        f=f or FormState.of(),
        members=[(m["staff_id"], m.get("display_name") or m["staff_id"]) for m in members],
        member_name={m["staff_id"]: m.get("display_name") or m["staff_id"] for m in members},
        sectors=sectors(),
        sector_name=dict(sectors()),
        done=request.query_params.get("done", ""),
    )


@router.get("/admin/trainings", response_class=HTMLResponse)
async def trainings(request: Request) -> Response:
    viewer = await signed_in(request)
    if not viewer.has(ADMIN):
        return forbidden(request, viewer)
    return await _trainings_page(request, viewer)


@router.post("/admin/trainings", response_class=HTMLResponse)
async def record_training(request: Request) -> Response:
    p = await posted(request)
    viewer = p.viewer
    if not viewer.has(ADMIN):
        return forbidden(request, viewer)
    f = FormState.of(p.form, idem=p.idempotency_key)

    async def again(form: FormState, status: int) -> Response:
        return await _trainings_page(request, viewer, form, status)

    if p.review:
        return await again(f, 200)
    if not p.all("participants"):
        f.add("participants", _("Tick who took part."))
        return await again(f, 422)
    body: dict[str, Any] = {name: p.get(name) for name in ("held_on", "topic", "trainer")}
    body["participants"] = p.all("participants")
    if p.get("sector"):
        body["sector"] = p.get("sector")
    answer = await call(
        request, viewer, "referral", "POST", "/trainings", json=body, idempotency_key=f.idem
    )
    if answer.ok:
        return RedirectResponse("/admin/trainings?done=saved", status_code=303)
    return await _refused(request, p, f, answer, TRAINING_FIELDS, again)
