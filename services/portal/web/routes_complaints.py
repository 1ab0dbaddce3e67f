"""Recourse. The public complaint page, which needs no account (a child or a family complains
about how an actor treated them, and follows the complaint with a tracking code), and the
oversight body's complaints inbox: acknowledge, then resolve. A complaint reaches oversight
only: intake never shows it to the actor it is about (decision 0025)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.portal.app.api import Answer
from services.portal.app.complaint_desk import desk_token, normalised_code
from services.portal.web import i18n
from services.portal.web.calling import call, failed_read
from services.portal.web.context import Viewer, portal_of
from services.portal.web.forms import FormState
from services.portal.web.i18n import _
from services.portal.web.pages import forbidden, not_found, page
from services.portal.web.routes_screening import valid_id
from services.portal.web.security import SignInRequired, posted, posted_anonymously, signed_in

log = logging.getLogger(__name__)
router = APIRouter()
READERS = ("oversight", "auditor")
HANDLER = "oversight"
COMPLAINT_FIELDS = ("complainant", "about_user", "about_agency", "account")
STATUSES = ("filed", "acknowledged", "resolved")


def complainants() -> list[tuple[str, str]]:
    return [
        ("child", _("I am the child")),
        ("family", _("Family of the child")),
        ("other", _("Someone else")),
        ("anonymous", _("I prefer not to say")),
    ]


def status_name(code: str) -> str:
    names = {
        "filed": _("Received, waiting to be examined"),
        "acknowledged": _("Being examined by the oversight body"),
        "resolved": _("Closed by the oversight body"),
    }
    return names.get(code, code)


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _language() -> str:
    return "en" if i18n.current_language.get() == "en" else "fr"


async def _desk_call(request: Request, path: str, body: dict[str, Any], key: str = "") -> Answer:
    portal = portal_of(request)
    if portal.desk_issuer is None:
        return Answer(503, unreachable=True)
    return await portal.services.call(
        "intake",
        "POST",
        path,
        token=desk_token(portal.desk_issuer),
        language=_language(),
        json=body,
        idempotency_key=key or None,
    )


def _too_many(f: FormState) -> None:
    f.general.append(
        _(
            "Too many requests from this connection in the last hour. Try again later, or "
            "call the free helpline 116."
        )
    )


# -- the public complaint page -----------------------------------------------------------------


def _complaint_page(request: Request, f: FormState, status: int = 200) -> Response:
    return page(
        request,
        "complaints/new.html",
        None,
        status=status,
        title=_("Make a complaint"),
        f=f,
        complainants=complainants(),
    )


@router.get("/complaint", response_class=HTMLResponse)
async def complaint_form(request: Request) -> Response:
    return _complaint_page(request, FormState.of())


@router.post("/complaint", response_class=HTMLResponse)
async def file_complaint(request: Request) -> Response:
    form = await posted_anonymously(request)
    f = FormState.of(form)
    f.idem = str(form.get("idem") or "") if 8 <= len(str(form.get("idem") or "")) <= 100 else f.idem
    value = {name: f.value(name).strip() for name in COMPLAINT_FIELDS}
    if value["complainant"] not in {c for c, _t in complainants()}:
        f.add("complainant", _("Say who is making the complaint."))
    if not value["about_user"]:
        f.add("about_user", _("Say who treated the child badly (a name or a description)."))
    if not value["about_agency"]:
        f.add("about_agency", _("Say where it happened (the service, station or centre)."))
    if len(value["account"]) < 3:
        f.add("account", _("Tell what happened, in a few words at least."))
    if f.has_errors:
        return _complaint_page(request, f, 422)
    portal = portal_of(request)
    assert portal.desk is not None
    if not await portal.desk.admit(portal.engine, _address(request), "file", datetime.now(UTC)):
        _too_many(f)
        return _complaint_page(request, f, 429)
    code = portal.desk.tracking_code(f.idem)
    answer = await _desk_call(
        request,
        "/complaints",
        {
            "about_user": value["about_user"][:200],
            "about_agency": value["about_agency"][:200],
            "complainant": value["complainant"],
            "account": value["account"],
            "tracking_code": code,
        },
        key=f.idem,
    )
    if not answer.ok:
        if answer.status in (401, 403, 502, 503, 504) or answer.unreachable:
            log.warning("complaint desk: intake answered %s", answer.status)
            f.unreachable(answer)
            return _complaint_page(request, f, 503)
        f.refused(answer, COMPLAINT_FIELDS, {})
        return _complaint_page(request, f, 422)
    log.info("complaint filed through the public desk")
    return page(request, "complaints/filed.html", None, title=_("Complaint received"), code=code)


def _follow_page(
    request: Request, f: FormState, found: dict[str, Any] | None = None, status: int = 200
) -> Response:
    return page(
        request,
        "complaints/follow.html",
        None,
        status=status,
        title=_("Follow a complaint"),
        f=f,
        found=found,
        status_name=status_name,
    )


@router.get("/complaint/follow", response_class=HTMLResponse)
async def follow_form(request: Request) -> Response:
    return _follow_page(request, FormState.of())


@router.post("/complaint/follow", response_class=HTMLResponse)
async def follow(request: Request) -> Response:
    form = await posted_anonymously(request)
    f = FormState.of(form)
    code = normalised_code(f.value("tracking_code"))
    if code is None:
        f.add("tracking_code", _("A tracking code has 16 letters and digits, e.g. 4K7P-…"))
        return _follow_page(request, f, status=422)
    portal = portal_of(request)
    assert portal.desk is not None
    if not await portal.desk.admit(portal.engine, _address(request), "follow", datetime.now(UTC)):
        _too_many(f)
        return _follow_page(request, f, status=429)
    answer = await _desk_call(request, "/complaints/tracking", {"tracking_code": code})
    if answer.status == 404:
        f.add("tracking_code", _("No complaint has this tracking code. Check it and try again."))
        return _follow_page(request, f, status=404)
    if not answer.ok:
        f.unreachable(answer)
        return _follow_page(request, f, status=503)
    return _follow_page(request, f, found=answer.data)


# -- the oversight body's inbox ----------------------------------------------------------------


@router.get("/oversight/complaints", response_class=HTMLResponse)
async def inbox(request: Request) -> Response:
    viewer = await signed_in(request)
    if not viewer.has(*READERS):
        return forbidden(request, viewer)
    wanted = request.query_params.get("status", "")
    params: dict[str, Any] = {"page_size": 200}
    if wanted in STATUSES:
        params["status"] = wanted
    answer = await call(request, viewer, "intake", "GET", "/complaints", params=params)
    if not answer.ok:
        return failed_read(request, viewer, answer)
    items = [c for c in answer.data.get("items", []) if isinstance(c, dict)]
    return page(
        request,
        "complaints/inbox.html",
        viewer,
        title=_("Complaints"),
        items=items,
        total=answer.data.get("total", len(items)),
        wanted=wanted if wanted in STATUSES else "",
        statuses=[(s, status_name(s)) for s in STATUSES],
        status_name=status_name,
        complainant_name=dict(complainants()),
    )


async def _complaint(
    request: Request,
    viewer: Viewer,
    complaint_id: str,
    forms: dict[str, FormState] | None = None,
    status: int = 200,
) -> Response:
    answer = await call(request, viewer, "intake", "GET", f"/complaints/{complaint_id}")
    if not answer.ok:
        return failed_read(request, viewer, answer)
    forms = forms or {}
    return page(
        request,
        "complaints/show.html",
        viewer,
        status=status,
        title=_("Complaint"),
        c=answer.data,
        version=answer.version,
        may_handle=viewer.has(HANDLER),
        ack=forms.get("acknowledgement") or FormState.of(),
        res=forms.get("resolution") or FormState.of(),
        status_name=status_name,
        complainant_name=dict(complainants()),
        done=request.query_params.get("done", ""),
    )


@router.get("/oversight/complaints/{complaint_id}", response_class=HTMLResponse)
async def show(complaint_id: str, request: Request) -> Response:
    viewer = await signed_in(request)
    if not viewer.has(*READERS):
        return forbidden(request, viewer)
    if not valid_id(complaint_id):
        return not_found(request, viewer)
    return await _complaint(request, viewer, complaint_id)


@router.post("/oversight/complaints/{complaint_id}/{step}", response_class=HTMLResponse)
async def handle(complaint_id: str, step: str, request: Request) -> Response:
    p = await posted(request)
    viewer = p.viewer
    if not valid_id(complaint_id) or step not in ("acknowledgement", "resolution"):
        return not_found(request, viewer)
    if not viewer.has(HANDLER):  # auditors read complaints and never act on them
        return forbidden(request, viewer)
    f = FormState.of(p.form, idem=p.idempotency_key)
    f.scope = step[:3] + "-"
    if step == "acknowledgement":
        body: dict[str, Any] = {"note": p.get("note") or None}
    else:
        upheld = p.get("upheld")
        if upheld not in ("yes", "no"):
            f.add("upheld", _("Say whether the complaint is upheld."))
        if len(p.get("outcome")) < 3:
            f.add("outcome", _("Say what was found and done, for the complainant."))
        if f.has_errors:
            return await _complaint(request, viewer, complaint_id, {step: f}, status=422)
        body = {"upheld": upheld == "yes", "outcome": p.get("outcome")}
    version = p.get("version")
    answer = await call(
        request,
        viewer,
        "intake",
        "POST",
        f"/complaints/{complaint_id}/{step}",
        json=body,
        if_match=int(version) if version.isdigit() else None,
        idempotency_key=f.idem,
    )
    if answer.ok:
        done = "later" if answer.later else "saved"
        return RedirectResponse(f"/oversight/complaints/{complaint_id}?done={done}", 303)
    if answer.status == 401:
        raise SignInRequired(expired=True, form=p.form, account=viewer.user)
    if answer.status in (403, 404):
        return failed_read(request, viewer, answer)
    if answer.status in (502, 503, 504) or answer.unreachable:
        f.unreachable(answer)
        status = 503
    else:
        f.refused(answer, ("note", "upheld", "outcome"), {})
        status = 409 if answer.status == 409 else 422
    return await _complaint(request, viewer, complaint_id, {step: f}, status=status)
