"""Supervisors: who waits for what and since when (overdue stages, unanswered referrals, cases
without a worker, missed visits, transfers), the caseload per worker, and the approvals
waiting (closures asked for, cases transferred to the agency) with approve and refuse."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.portal.read import accounts as account_rows
from services.portal.web import choices
from services.portal.web.calling import call, failed_read, refusal
from services.portal.web.context import Viewer, portal_of
from services.portal.web.forms import FormState
from services.portal.web.i18n import _
from services.portal.web.pages import forbidden, not_found, page
from services.portal.web.routes_screening import valid_id
from services.portal.web.security import posted, signed_in

router = APIRouter()
SUPERVISOR = "supervisor"


def waiting_label(code: str) -> str:
    return {
        "assignment": _("a case worker"),
        "stage": _("its overdue stage"),
        "follow_up_visit": _("a follow-up visit"),
        "transfer_answer": _("another agency's answer to a transfer"),
        "incoming_transfer": _("your agency's answer to a transfer"),
        "referral_answer": _("a unit's answer to a referral"),
    }.get(code, code)


async def _supervision_page(
    request: Request,
    viewer: Viewer,
    f: FormState | None = None,
    *,
    status: int = 200,
) -> Response:
    waiting, load, cases, incoming = await asyncio.gather(
        call(request, viewer, "casework", "GET", "/supervision/waiting", params={"limit": 100}),
        call(request, viewer, "casework", "GET", "/supervision/caseload"),
        call(request, viewer, "casework", "GET", "/cases", params={"limit": 200}),
        call(request, viewer, "casework", "GET", "/transfers/incoming"),
    )
    for answer in (waiting, load, cases, incoming):
        if not answer.ok:
            return failed_read(request, viewer, answer)
    names = await account_rows.names_of(portal_of(request).engine, viewer.agency)
    items: list[dict[str, Any]] = [w for w in waiting.data.get("items", []) if isinstance(w, dict)]
    closures = [
        c
        for c in cases.data.get("items", [])
        if isinstance(c, dict) and c.get("status") == "closure_requested"
    ]
    return page(
        request,
        "supervision/index.html",
        viewer,
        status=status,
        title=_("Supervision"),
        waiting=items,
        workers=[w for w in load.data.get("workers", []) if isinstance(w, dict)],
        closures=closures,
        transfers=[t for t in incoming.data.get("items", []) if isinstance(t, dict)],
        names=names,
        waiting_label=waiting_label,
        stage=choices.stage,
        risk=choices.risk,
        f=f or FormState.of(),
        done=request.query_params.get("done", ""),
    )


@router.get("/supervision", response_class=HTMLResponse)
async def supervision(request: Request) -> Response:
    viewer = await signed_in(request)
    if not viewer.has(SUPERVISOR):
        return forbidden(request, viewer)
    return await _supervision_page(request, viewer)


@router.post("/supervision/{kind}/{case_id}", response_class=HTMLResponse)
async def decide(kind: str, case_id: str, request: Request) -> Response:
    """``closure`` (approve or refuse a closure asked for) or ``transfer`` (accept or decline
    a case another agency transfers to this one)."""
    p = await posted(request)
    viewer = p.viewer
    if kind not in ("closure", "transfer") or not valid_id(case_id):
        return not_found(request, viewer)
    if not viewer.has(SUPERVISOR):
        return forbidden(request, viewer)
    f = FormState.of(p.form, idem=p.idempotency_key)
    if p.review:
        return await _supervision_page(request, viewer, f)
    approve = p.get("decision") == "approve"
    note = p.get("note")
    if kind == "closure":
        path = f"/cases/{case_id}/closure/decision"
        body: dict[str, Any] = {"approve": approve, **({"note": note} if note else {})}
    else:
        transfer_id = p.get("transfer_id")
        if not valid_id(transfer_id):
            return not_found(request, viewer)
        if not approve and not note:
            f.general.append(_("Say why the agency declines the case."))
            return await _supervision_page(request, viewer, f, status=422)
        answer_kind = "accept" if approve else "decline"
        path = f"/cases/{case_id}/transfers/{transfer_id}/{answer_kind}"
        body = {} if approve else {"reason": note}
    version = p.get("version")
    answer = await call(
        request,
        viewer,
        "casework",
        "POST",
        path,
        json=body,
        if_match=int(version) if version.isdigit() else None,
        idempotency_key=f.idem,
    )
    if answer.ok:
        return RedirectResponse("/supervision?done=saved#approvals", status_code=303)
    # The forms are one per card: the reasons go on top.
    conflict = _("The case changed meanwhile: check it below, then decide again.")
    status = refusal(request, p, f, answer, conflict=conflict)
    if isinstance(status, Response):
        return status
    return await _supervision_page(request, viewer, f, status=status)
