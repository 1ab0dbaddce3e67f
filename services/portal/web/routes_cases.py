"""Case workers: "my cases" (overdue first) and the case page: the child, the stage and its
due date, the next step, the timeline, assessments and best interests with the child's views,
the plan, services, visits, notes by sensitivity and the closure request."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.portal.app.api import Answer
from services.portal.read import accounts as account_rows
from services.portal.web import choices, places, routes_referrals
from services.portal.web.calling import call, failed_read
from services.portal.web.case_view import CASE_FORMS, next_step, timeline
from services.portal.web.context import Viewer, portal_of
from services.portal.web.forms import FormState
from services.portal.web.i18n import _
from services.portal.web.pages import forbidden, not_found, page
from services.portal.web.routes_screening import valid_id
from services.portal.web.security import SignInRequired, posted, signed_in

router = APIRouter()
WORKERS = ("case_worker", "supervisor")


def _late(case: dict[str, Any]) -> bool:
    return bool(case.get("overdue") or case.get("visit_overdue"))


@router.get("/cases", response_class=HTMLResponse)
async def my_cases(request: Request) -> Response:
    viewer = await signed_in(request)
    if not viewer.has(*WORKERS):
        return forbidden(request, viewer)
    answer = await call(request, viewer, "casework", "GET", "/cases", params={"limit": 200})
    if not answer.ok:
        return failed_read(request, viewer, answer)
    cases = [c for c in answer.data.get("items", []) if isinstance(c, dict)]
    cases = [c for c in cases if c.get("status") != "closed"]
    cases.sort(key=lambda c: (not _late(c), str(c.get("stage_due_at") or "9999")))
    names = await account_rows.names_of(portal_of(request).engine, viewer.agency)
    mine = [c for c in cases if c.get("worker_id") == viewer.user]
    unassigned = [c for c in cases if not c.get("worker_id")]
    others = [c for c in cases if c not in mine and c not in unassigned]
    return page(
        request,
        "cases/list.html",
        viewer,
        title=_("My cases"),
        mine=mine,
        unassigned=unassigned,
        others=others if viewer.has("supervisor") else [],
        names=names,
        stage=choices.stage,
        risk=choices.risk,
        late=_late,
        place=places.label_of,
    )


def child_name(case: dict[str, Any], record: dict[str, Any] | None) -> str | None:
    """The child's name for the agency that owns the case: from the case itself when
    casework shows it, else from intake's record when the role may read it."""
    for key in ("child_display_name", "child_name", "display_name"):
        if isinstance(case.get(key), str) and case[key]:
            return str(case[key])
    child = case.get("child")
    if isinstance(child, dict) and (child.get("display_name") or child.get("name")):
        return str(child.get("display_name") or child.get("name"))
    details = (record or {}).get("details") or {}
    name = details.get("name") or details.get("alias")
    return str(name) if name else None


async def _transfer_sites(
    request: Request, viewer: Viewer, case: dict[str, Any]
) -> list[tuple[str, str]] | None:
    """The sites a supervisor may release the case to, for a choice list; None (a typed site
    id, which casework checks) when there is no form to show or casework could not say."""
    if not viewer.has("supervisor") or case.get("status") == "closed" or case.get("released_to"):
        return None
    answer = await call(request, viewer, "casework", "GET", "/sites")
    others = answer.data.get("others") if answer.ok else None
    if not isinstance(others, list) or not others:
        return None
    return [(str(site), str(site)) for site in others]


async def _case_page(
    request: Request,
    viewer: Viewer,
    case_id: str,
    forms: dict[str, FormState] | None = None,
    *,
    status: int = 200,
    open_form: str = "",
) -> Response:
    case_answer, notes_answer, referrals = await asyncio.gather(
        call(request, viewer, "casework", "GET", f"/cases/{case_id}"),
        call(request, viewer, "casework", "GET", f"/cases/{case_id}/notes"),
        routes_referrals.referrals_of(request, viewer, case_id),
    )
    if not case_answer.ok:
        return failed_read(request, viewer, case_answer)
    case = case_answer.data
    notes = [n for n in notes_answer.data.get("items", []) if isinstance(n, dict)]
    record = None
    if valid_id(str(case.get("child_id", ""))) and child_name(case, None) is None:
        child = await call(request, viewer, "intake", "GET", f"/children/{case['child_id']}")
        record = child.data if child.ok else None
    portal = portal_of(request)
    people = await account_rows.of_agency(portal.engine, viewer.agency)
    names = {p.account_id: p.display_name or p.email for p in people}
    step = next_step(case)
    forms = dict(forms or {})
    now = datetime.now(UTC).isoformat()
    for kind in CASE_FORMS:
        f = forms.setdefault(kind, FormState.of())
        f.scope = f"{kind}-"
        f.values_by_name.setdefault("seen_at", [now])
    forms["assignment"].values_by_name.setdefault("worker_id", [viewer.user])
    forms["assessment"].values_by_name.setdefault(
        "kind",
        ["comprehensive" if case.get("stage") == "comprehensive_assessment" else "initial"],
    )
    forms["action"].values_by_name.setdefault("responsible_agency", [viewer.agency])
    forms["service"].values_by_name.setdefault("delivered_on", [date.today().isoformat()])
    forms["visit"].values_by_name.setdefault("visited_on", [date.today().isoformat()])
    forms["note"].values_by_name.setdefault("sensitivity", ["normal"])
    forms["stage"].values_by_name.setdefault("to", [step.to_stage])
    done = request.query_params.get("done", "")
    return page(
        request,
        "cases/show.html",
        viewer,
        status=status,
        title=_("Case"),
        transfer_sites=await _transfer_sites(request, viewer, case),
        case=case,
        child=child_name(case, record),
        record=record,
        notes=notes,
        entries=timeline(case, notes, names),
        step=step,
        fs=forms,
        open_form=open_form or step.form,
        done=done,
        version=case.get("version"),
        names=names,
        workers=[
            (p.account_id, p.display_name or p.email)
            for p in people
            if "case_worker" in p.roles and not p.disabled
        ],
        supervisors=[
            (p.account_id, p.display_name or p.email)
            for p in people
            if "supervisor" in p.roles and not p.disabled
        ],
        stage=choices.stage,
        risk=choices.risk,
        case_status=choices.case_status,
        place=places.label_of,
        risk_levels=choices.risk_levels(),
        reasons=choices.not_heard_reasons(),
        decision_kinds=choices.decision_kinds(),
        sensitivities=choices.sensitivities(),
        sensitivity=choices.sensitivity,
        assessment_kinds=choices.assessment_kinds(),
        service_kinds=choices.coded("service_kinds"),
        closure_reasons=choices.coded("closure_reasons"),
        yes_no=choices.yes_no(),
        referrals=referrals,
        referral_status=routes_referrals.status_label,
        goal_options=[
            (str(g.get("goal_id")), str(g.get("text", ""))[:80])
            for g in case.get("goals", [])
            if isinstance(g, dict)
        ],
    )


@router.get("/cases/{case_id}", response_class=HTMLResponse)
async def show_case(case_id: str, request: Request) -> Response:
    viewer = await signed_in(request)
    if not valid_id(case_id):
        return not_found(request, viewer)
    return await _case_page(request, viewer, case_id)


def changes_since(
    case: dict[str, Any], notes: list[dict[str, Any]], seen_at: str, names: dict[str, str]
) -> list[str]:
    """What the case shows that happened after ``seen_at``, in plain words."""
    entries = [e for e in timeline(case, notes, names) if e.at > seen_at]
    found = [f"{e.text} ({e.who})" if e.who else e.text for e in entries]
    return found or [_("its stage, due date or another detail changed")]


@router.post("/cases/{case_id}/{kind}", response_class=HTMLResponse)
async def act(case_id: str, kind: str, request: Request) -> Response:
    p = await posted(request)
    viewer = p.viewer
    form = CASE_FORMS.get(kind.replace("-", "_"))
    if not valid_id(case_id) or form is None:
        return not_found(request, viewer)
    if not viewer.has(*WORKERS):
        return forbidden(request, viewer)
    key = kind.replace("-", "_")
    if key == "site_transfer" and not viewer.has("supervisor"):
        return forbidden(request, viewer)
    f = FormState.of(p.form, idem=p.idempotency_key)
    if p.review:
        return await _case_page(request, viewer, case_id, {key: f}, open_form=key)
    if key == "site_transfer" and not p.get("confirm"):
        # Only the other site can change the case afterwards: said, and confirmed.
        f.add("confirm", _("Tick the box to confirm the transfer to another site."))
        return await _case_page(request, viewer, case_id, {key: f}, status=422, open_form=key)
    version = p.get("version")
    answer = await call(
        request,
        viewer,
        "casework",
        "POST",
        f"/cases/{case_id}/{form.path}",
        json=form.body(p.get),
        if_match=int(version) if version.isdigit() else None,
        idempotency_key=f.idem,
    )
    if answer.ok:
        done = "later" if answer.later else "saved"
        return RedirectResponse(f"/cases/{case_id}?done={done}#{key}", status_code=303)
    return await _refused(request, viewer, case_id, key, f, answer, p.form)


async def _refused(
    request: Request,
    viewer: Viewer,
    case_id: str,
    key: str,
    f: FormState,
    answer: Answer,
    form: Any,
) -> Response:
    if answer.status == 401:
        raise SignInRequired(expired=True, form=form, account=viewer.user)
    if answer.status in (403, 404):
        return failed_read(request, viewer, answer)
    status = answer.status
    if status in (502, 503, 504) or answer.unreachable:
        f.unreachable(answer)
        status = 503
    elif status == 409 and answer.code == "version_conflict":
        current, notes = await asyncio.gather(
            call(request, viewer, "casework", "GET", f"/cases/{case_id}"),
            call(request, viewer, "casework", "GET", f"/cases/{case_id}/notes"),
        )
        names = await account_rows.names_of(portal_of(request).engine, viewer.agency)
        what = changes_since(
            current.data,
            [n for n in notes.data.get("items", []) if isinstance(n, dict)],
            f.value("seen_at"),
            names,
        )
        f.notice_kind = "warn"
        f.notice = _(
            "Someone changed this case while you were working on it: %(what)s. What you typed "
            "is kept below: check it against the case, then save again, or reload the case.",
            what="; ".join(what),
        )
        f.values_by_name["version"] = [str(current.data.get("version", ""))]
        f.values_by_name["seen_at"] = [datetime.now(UTC).isoformat()]
    else:
        f.refused(answer, CASE_FORMS[key].fields, {})
    return await _case_page(request, viewer, case_id, {key: f}, status=status, open_form=key)
