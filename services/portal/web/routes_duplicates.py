"""Two child records side by side (what agrees, the likeness) and the decision on a suggested
duplicate: the same child, or two different children."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.portal.web import duplicates
from services.portal.web.calling import call, failed_read
from services.portal.web.context import Viewer
from services.portal.web.forms import FormState
from services.portal.web.i18n import _
from services.portal.web.pages import not_found, page
from services.portal.web.routes_screening import LINKERS, valid_id
from services.portal.web.security import SignInRequired, posted, signed_in

router = APIRouter()


@router.get("/children/{child_id}/duplicates/{candidate_id}", response_class=HTMLResponse)
async def compare(child_id: str, candidate_id: str, request: Request) -> Response:
    viewer = await signed_in(request)
    if not (valid_id(child_id) and valid_id(candidate_id)):
        return not_found(request, viewer)
    return await _compare_page(request, viewer, child_id, candidate_id, FormState.of())


async def _compare_page(
    request: Request,
    viewer: Viewer,
    child_id: str,
    candidate_id: str,
    f: FormState,
    *,
    status: int = 200,
) -> Response:
    left, right = await asyncio.gather(
        call(request, viewer, "intake", "GET", f"/children/{child_id}"),
        call(request, viewer, "intake", "GET", f"/children/{candidate_id}"),
    )
    for answer in (left, right):
        if not answer.ok:
            return failed_read(request, viewer, answer)
    suggestion = next(
        (
            s
            for s in left.data.get("suggested_duplicates", [])
            if isinstance(s, dict) and s.get("candidate_id") == candidate_id
        ),
        None,
    )
    if suggestion is None:
        return not_found(request, viewer)
    rows = duplicates.compare(left.data, right.data, datetime.now(UTC).date())
    return page(
        request,
        "reports/compare.html",
        viewer,
        status=status,
        title=_("Same child?"),
        left=left.data,
        right=right.data,
        rows=rows,
        matched=duplicates.matched(rows),
        score=float(suggestion.get("score") or 0),
        suggestion_status=str(suggestion.get("status") or "pending"),
        may_decide=viewer.has(*LINKERS),
        f=f,
        back=request.query_params.get("report", "") or left.data.get("report_id") or "",
    )


@router.post(
    "/children/{child_id}/duplicates/{candidate_id}/{verdict}", response_class=HTMLResponse
)
async def decide_duplicate(
    child_id: str, candidate_id: str, verdict: str, request: Request
) -> Response:
    p = await posted(request)
    viewer = p.viewer
    if not (valid_id(child_id) and valid_id(candidate_id)) or verdict not in (
        "confirm",
        "reject",
    ):
        return not_found(request, viewer)
    f = FormState.of(p.form, idem=p.idempotency_key)
    if p.review:
        return await _compare_page(request, viewer, child_id, candidate_id, f)
    body: dict[str, Any] = {}
    if p.get("note"):
        body["note"] = p.get("note")
    # The version the screener saw travels as If-Match, never in the body.
    version = p.get("version")
    answer = await call(
        request,
        viewer,
        "intake",
        "POST",
        f"/children/{child_id}/duplicates/{candidate_id}/{verdict}",
        json=body,
        if_match=int(version) if version.isdigit() else None,
        idempotency_key=f.idem,
    )
    if answer.ok:
        back = p.get("report")
        target = f"/reports/{back}" if valid_id(back) else "/screening"
        return RedirectResponse(f"{target}?done={verdict}ed", status_code=303)
    if answer.status == 401:
        raise SignInRequired(expired=True, form=p.form, account=viewer.user)
    if answer.status in (403, 404):
        return failed_read(request, viewer, answer)
    if answer.status in (502, 503, 504) or answer.unreachable:
        f.unreachable(answer)
    elif answer.status == 409:
        f.notice_kind = "warn"
        f.notice = _(
            "Someone changed this child's record meanwhile. Look at both records again, then "
            "decide."
        )
    else:
        f.refused(answer, ("note",), {})
    return await _compare_page(request, viewer, child_id, candidate_id, f, status=answer.status)
