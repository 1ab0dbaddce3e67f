"""Calling a service as the signed-in person, and the page to show when a read fails."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from services.portal.app.api import Answer
from services.portal.web import i18n
from services.portal.web.context import Viewer, portal_of
from services.portal.web.forms import FormState
from services.portal.web.pages import forbidden, message_page, not_found, unavailable
from services.portal.web.security import Posted, SignInRequired


async def call(
    request: Request, viewer: Viewer, service: str, method: str, path: str, **kwargs: Any
) -> Answer:
    # The services speak French and English; any other language reads their French.
    language = "en" if i18n.current_language.get() == "en" else "fr"
    return await portal_of(request).services.call(
        service, method, path, token=viewer.token, language=language, **kwargs
    )


def failed_read(request: Request, viewer: Viewer, answer: Answer) -> Response:
    """The page for a read that did not succeed."""
    if answer.status == 401:
        raise SignInRequired(expired=True)
    if answer.status == 404:
        return not_found(request, viewer)
    if answer.status == 403:
        return forbidden(request, viewer)
    if answer.status in (502, 503, 504) or answer.unreachable:
        return unavailable(request, viewer, answer.retry_after)
    return message_page(
        request,
        viewer,
        status=502 if answer.status >= 500 else 400,
        title=i18n._("This page could not be shown"),
        text=answer.message or i18n._("Go back and try again."),
    )


def refusal(
    request: Request,
    p: Posted,
    f: FormState,
    answer: Answer,
    fields: Iterable[str] = (),
    renamed: Mapping[str, str] | None = None,
    *,
    conflict: str | None = None,
) -> Response | int:
    """What a service's refusal of a form means: signing in again (raised, the form kept), the
    record's page (gone or not the person's), or the form's status, with the reasons put
    beside its ``fields`` (the service away: 503; a stale version, with ``conflict`` said
    on top: 409)."""
    if answer.status == 401:
        raise SignInRequired(expired=True, form=p.form, account=p.viewer.user)
    if answer.status in (403, 404):
        return failed_read(request, p.viewer, answer)
    if answer.status in (502, 503, 504) or answer.unreachable:
        f.unreachable(answer)
        return 503
    if conflict is not None and answer.status == 409 and answer.code == "version_conflict":
        f.notice_kind = "warn"
        f.notice = conflict
        return 409
    f.refused(answer, fields, renamed or {})
    return answer.status
