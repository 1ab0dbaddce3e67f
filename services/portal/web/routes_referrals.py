"""Case workers finding and referring: the directory search (ranked as referral ranks it), and
a referral from a plan action: consent, the fields to share, and a preview of exactly what the
receiving unit will see (referral's own view, from ``POST /referrals/preview``) before it is
sent. The case page shows the case's referrals (``referrals_of``)."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.portal.web import choices, i18n, places
from services.portal.web.calling import call, failed_read, refusal
from services.portal.web.context import Viewer
from services.portal.web.forms import FormState
from services.portal.web.i18n import _
from services.portal.web.names import names_for
from services.portal.web.pages import forbidden, not_found, page
from services.portal.web.routes_screening import valid_id
from services.portal.web.security import SignInRequired, posted, signed_in
from shared.reference import codes

router = APIRouter()
WORKERS = ("case_worker", "supervisor")
# What a referral may share with the receiving unit (contracts.referral.SHAREABLE), in the
# order the form lists them; the portal shows the service's own answer, not this list.
SHAREABLE = ("child_age_band", "child_sex", "concerns", "urgency", "reason", "contact")
REFER_FIELDS = (
    "to_unit",
    "service_kind",
    "urgency",
    "reason",
    "consent.given",
    "consent.given_by",
    "consent.given_at",
    "consent.reason_not_sought",
    "shared_fields",
    "details.child_age_band",
    "details.child_sex",
    "details.concerns",
    "details.contact",
)


def shared_label(name: str) -> str:
    return {
        "child_age_band": _("The child's age band"),
        "child_sex": _("The child's sex"),
        "concerns": _("The concerns"),
        "urgency": _("The urgency"),
        "reason": _("Why the child is referred"),
        "contact": _("A contact for the unit"),
    }.get(name, name)


def status_label(code: str | None) -> str:
    return {
        "made": _("Waiting for an answer"),
        "accepted": _("Accepted"),
        "declined": _("Declined"),
        "completed": _("Completed"),
        "withdrawn": _("Withdrawn"),
        "requested": _("Being sent"),
        "awaiting_referral": _("Being sent"),
        "refused": _("Not sent"),
    }.get(code or "", code or "")


def given_by_options() -> list[tuple[str, str]]:
    return [
        ("child", _("The child")),
        ("guardian", _("A parent or guardian")),
        ("both", _("The child and a guardian")),
        ("court", _("A court")),
    ]


def age_bands() -> list[tuple[str, str]]:
    return [(b[0], b[0]) for b in codes().age_bands] + [("unknown", _("Not known"))]


def communes() -> list[tuple[str, str]]:
    return [(p.code, p.label) for p in places.places()]


# -- the directory -----------------------------------------------------------------------------


@router.get("/directory", response_class=HTMLResponse)
async def directory(request: Request) -> Response:
    viewer = await signed_in(request)
    if not viewer.has(*WORKERS):
        return forbidden(request, viewer)
    q = request.query_params
    f = FormState.of(dict(q))
    found: list[dict[str, Any]] | None = None
    kind = q.get("service_kind", "")
    if kind:
        params: dict[str, Any] = {"service_kind": kind, "limit": 50}
        age = q.get("age", "")
        if age.isdigit() and int(age) <= 17:
            params["age"] = int(age)
        elif age:
            f.add("age", _("An age from 0 to 17, in years."))
        for name, key in (("sex", "sex"), ("commune", "near")):
            if q.get(name):
                params[key] = q[name]
        answer = await call(request, viewer, "referral", "GET", "/search", params=params)
        if answer.ok:
            found = [u for u in answer.data.get("items", []) if isinstance(u, dict)]
            if q.get("open_now"):
                found = [u for u in found if u.get("open_now")]
            if q.get("free_places"):
                found = [u for u in found if int(u.get("available") or 0) > 0]
        elif answer.status == 422:
            f.refused(answer, ("service_kind", "age", "sex", "near"), {"near": "commune"})
        else:
            return failed_read(request, viewer, answer)
    case_id, action_id = q.get("case", ""), q.get("action", "")
    return page(
        request,
        "referrals/directory.html",
        viewer,
        title=_("Find a service"),
        f=f,
        found=found,
        case_id=case_id if valid_id(case_id) else "",
        action_id=action_id if valid_id(action_id) else "",
        service_kinds=choices.coded("service_kinds"),
        sexes=choices.coded("sexes"),
        communes=communes(),
        place=places.label_of,
    )


# -- referring -------------------------------------------------------------------------------


def _action(case: dict[str, Any], action_id: str) -> dict[str, Any] | None:
    for goal in case.get("goals") or []:
        for action in goal.get("actions") or [] if isinstance(goal, dict) else []:
            if isinstance(action, dict) and action.get("action_id") == action_id:
                return action
    return None


async def _refer_page(
    request: Request,
    viewer: Viewer,
    case_id: str,
    f: FormState,
    *,
    preview: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    answer = await call(request, viewer, "casework", "GET", f"/cases/{case_id}")
    if not answer.ok:
        return failed_read(request, viewer, answer)
    case = answer.data
    action = _action(case, f.value("action")) if f.value("action") else None
    unit_id = f.value("to_unit")
    unit = None
    if valid_id(unit_id):
        found = await call(request, viewer, "referral", "GET", f"/units/{unit_id}")
        unit = found.data if found.ok else None
    defaults = f.values_by_name
    if action is not None:
        defaults.setdefault("service_kind", [str(action.get("service_kind") or "")])
        defaults.setdefault("reason", [str(action.get("text") or "")])
    defaults.setdefault("urgency", [str(case.get("urgency") or "normal")])
    defaults.setdefault("details.child_age_band", [str(case.get("age_band") or "")])
    defaults.setdefault("details.child_sex", [str(case.get("sex") or "")])
    defaults.setdefault("details.concerns", [str(c) for c in case.get("concerns") or []])
    return page(
        request,
        "referrals/refer.html",
        viewer,
        status=status,
        title=_("Refer"),
        f=f,
        case=case,
        action=action,
        unit=unit,
        preview=preview,
        preview_rows=preview_rows(preview) if preview else [],
        service_kinds=choices.coded("service_kinds"),
        urgencies=choices.coded("urgencies"),
        given_by=given_by_options(),
        yes_no=choices.yes_no(),
        shareable=[(name, shared_label(name)) for name in SHAREABLE],
        age_bands=age_bands(),
        sexes=choices.coded("sexes"),
        concerns=choices.concerns(),
    )


def preview_rows(view: dict[str, Any]) -> list[tuple[str, str]]:
    """The receiving unit's view, line by line, in the words its inbox uses."""
    rows = [
        (_("Service"), i18n.label("service_kinds", view.get("service_kind"))),
        (_("From"), str(view.get("from_agency") or "")),
        (_("Answer by"), i18n.when(view.get("due_at"))),
    ]
    for name in SHAREABLE:
        if name not in view:
            continue
        value = view[name]
        if name == "urgency":
            text = i18n.label("urgencies", value)
        elif name == "child_sex":
            text = i18n.label("sexes", value)
        elif name == "concerns":
            text = ", ".join(i18n.label("concerns", c) for c in value or [])
        else:
            text = str(value or "")
        rows.append((shared_label(name), text or _("(shared, left empty)")))
    return rows


@router.get("/refer/{case_id}", response_class=HTMLResponse)
async def refer_form(case_id: str, request: Request) -> Response:
    viewer = await signed_in(request)
    if not valid_id(case_id):
        return not_found(request, viewer)
    if not viewer.has(*WORKERS):
        return forbidden(request, viewer)
    q = request.query_params
    f = FormState.of(
        {
            "to_unit": q.get("unit", ""),
            "action": q.get("action", ""),
            "service_kind": q.get("service_kind", ""),
        }
    )
    f.values_by_name = {k: v for k, v in f.values_by_name.items() if v != [""]}
    f.values_by_name.setdefault("shared_fields", ["child_age_band", "child_sex", "urgency"])
    return await _refer_page(request, viewer, case_id, f)


def _given_at(text: str) -> str | None:
    """A moment typed in the country's time (``datetime-local``), with its offset."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text  # the service names the field and the reason
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=i18n.current_zone.get() or ZoneInfo("UTC"))
    return moment.isoformat()


def refer_body(case: dict[str, Any], get: Any, all_of: Any) -> dict[str, Any]:
    shared = [s for s in all_of("shared_fields") if s in SHAREABLE]
    given = get("consent.given")
    consent: dict[str, Any] = {"given": given == "yes"} if given in ("yes", "no") else {}
    if given == "yes":
        consent["given_by"] = get("consent.given_by") or None
        consent["given_at"] = _given_at(get("consent.given_at"))
    elif given == "no":
        consent["reason_not_sought"] = get("consent.reason_not_sought") or None
    details: dict[str, Any] = {}
    for name in ("child_age_band", "child_sex", "contact"):
        if name in shared and get(f"details.{name}"):
            details[name] = get(f"details.{name}")
    if "concerns" in shared and all_of("details.concerns"):
        details["concerns"] = all_of("details.concerns")
    return {
        "case_id": case.get("case_id"),
        "child_id": case.get("child_id"),
        "to_unit": get("to_unit"),
        "service_kind": get("service_kind"),
        "urgency": get("urgency"),
        "reason": get("reason"),
        "consent": consent,
        "shared_fields": shared,
        "details": details,
        # The plan action it carries out: casework then shows the referral on that action.
        "action_id": get("action") if valid_id(get("action")) else None,
    }


def _digest(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


@router.post("/refer/{case_id}", response_class=HTMLResponse)
async def refer(case_id: str, request: Request) -> Response:
    p = await posted(request)
    viewer = p.viewer
    if not valid_id(case_id):
        return not_found(request, viewer)
    if not viewer.has(*WORKERS):
        return forbidden(request, viewer)
    f = FormState.of(p.form, idem=p.idempotency_key)
    if p.review:
        return await _refer_page(request, viewer, case_id, f)
    case = await call(request, viewer, "casework", "GET", f"/cases/{case_id}")
    if not case.ok:
        return failed_read(request, viewer, case)
    if p.get("consent.given") not in ("yes", "no"):
        f.add("consent.given", _("Say whether consent was given, or why it was not sought."))
    if not p.all("shared_fields"):
        f.add("shared_fields", _("Choose at least one thing the unit may see."))
    if f.has_errors:
        return await _refer_page(request, viewer, case_id, f, status=422)
    body = refer_body(case.data, p.get, p.all)
    digest = _digest(body)
    # Sent only as previewed: a form changed after its preview is shown again, not sent.
    sending = p.get("step") == "send" and hmac.compare_digest(p.get("previewed"), digest)
    if p.get("step") == "send" and not sending:
        f.notice_kind = "warn"
        f.notice = _(
            "The form changed since the preview: check again what the unit will see, then send."
        )
    answer = await call(
        request,
        viewer,
        "referral",
        "POST",
        "/referrals" if sending else "/referrals/preview",
        json=body,
        idempotency_key=f.idem if sending else None,
    )
    if answer.ok:
        if sending:
            return RedirectResponse(f"/cases/{case_id}?done=referred#referrals", status_code=303)
        f.values_by_name["previewed"] = [digest]
        return await _refer_page(request, viewer, case_id, f, preview=answer.data)
    status = refusal(request, p, f, answer, (*REFER_FIELDS, "consent", "details"))
    if isinstance(status, Response):
        return status
    return await _refer_page(request, viewer, case_id, f, status=status)


async def referrals_of(request: Request, viewer: Viewer, case_id: str) -> list[dict[str, Any]]:
    """The case's referrals, as referral shows them to its agency (empty if it cannot), each
    with the names of its unit and of the unit suggested instead (``to_unit_name``,
    ``suggested_unit_name``)."""
    answer = await call(
        request, viewer, "referral", "GET", "/referrals", params={"case_id": case_id}
    )
    found = [r for r in answer.data.get("items", []) if isinstance(r, dict)] if answer.ok else []
    names = await names_for(
        request, viewer, units=(r.get(k) for r in found for k in ("to_unit", "suggested_unit"))
    )
    for r in found:
        for key in ("to_unit", "suggested_unit"):
            if r.get(key):
                r[f"{key}_name"] = names.unit(r[key])
    return found


@router.post("/refer/{case_id}/withdraw/{referral_id}", response_class=HTMLResponse)
async def withdraw(case_id: str, referral_id: str, request: Request) -> Response:
    """Withdraw a referral of the case still waiting or in progress, with a reason."""
    p = await posted(request)
    viewer = p.viewer
    if not valid_id(case_id) or not valid_id(referral_id):
        return not_found(request, viewer)
    if not viewer.has(*WORKERS):
        return forbidden(request, viewer)
    reason = p.get("reason")
    if not reason:
        return RedirectResponse(f"/cases/{case_id}?done=withdraw-reason#referrals", 303)
    version = p.get("version")
    answer = await call(
        request,
        viewer,
        "referral",
        "POST",
        f"/referrals/{referral_id}/withdraw",
        json={"reason": reason},
        if_match=int(version) if version.isdigit() else None,
        idempotency_key=p.idempotency_key or None,
    )
    if answer.ok:
        return RedirectResponse(f"/cases/{case_id}?done=withdrawn#referrals", 303)
    if answer.status == 401:
        raise SignInRequired(expired=True, form=p.form, account=viewer.user)
    if answer.status in (403, 404) or answer.unreachable or answer.status >= 500:
        return failed_read(request, viewer, answer)
    return RedirectResponse(f"/cases/{case_id}?done=withdraw-refused#referrals", 303)
