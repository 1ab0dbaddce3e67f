"""Answering with a page: the shared context every template gets (who is signed in, the
language and its direction, the CSRF token, the menu), and the pages for what went wrong."""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from services.portal.web import i18n
from services.portal.web.context import Viewer
from services.portal.web.templating import render

PRE_COOKIE = "relais_pre"  # an anonymous visitor's CSRF token (double-submit) and OIDC binding
LANG_COOKIE = "relais_lang"
SESSION_COOKIE = "relais_session"

# The screens of each role, in the order the menu shows them: (path, label, roles).
MENU: tuple[tuple[str, str, frozenset[str]], ...] = (
    ("/reports/new", i18n.N_("New report"), frozenset({"hotline_operator", "intake_officer"})),
    (
        "/reports/mine",
        i18n.N_("My recent reports"),
        frozenset({"hotline_operator", "intake_officer"}),
    ),
    ("/screening", i18n.N_("Screening queue"), frozenset({"screener", "supervisor"})),
    ("/cases", i18n.N_("My cases"), frozenset({"case_worker", "supervisor"})),
    ("/admin/users", i18n.N_("Users"), frozenset({"agency_admin"})),
    # portal2b
    ("/oversight/complaints", i18n.N_("Complaints"), frozenset({"oversight", "auditor"})),
    (
        "/statistics",
        i18n.N_("Statistics"),
        frozenset({"statistician", "agency_admin", "oversight", "auditor"}),
    ),
    ("/audit", i18n.N_("Audit"), frozenset({"auditor"})),
    (
        "/statistical-reports",
        i18n.N_("Periodic reports"),
        frozenset({"agency_admin", "statistician"}),
    ),
    # portal2a
    ("/directory", i18n.N_("Find a service"), frozenset({"case_worker", "supervisor"})),
    ("/inbox", i18n.N_("Referral inbox"), frozenset({"unit_coordinator"})),
    ("/unit", i18n.N_("My unit"), frozenset({"unit_coordinator"})),
    ("/supervision", i18n.N_("Supervision"), frozenset({"supervisor"})),
    ("/admin/units", i18n.N_("Units"), frozenset({"agency_admin"})),
    ("/admin/staff", i18n.N_("Staff"), frozenset({"agency_admin"})),
    ("/admin/trainings", i18n.N_("Training sessions"), frozenset({"agency_admin"})),
)


def menu_for(viewer: Viewer | None) -> list[tuple[str, str]]:
    if viewer is None:
        return []
    return [(path, i18n._(text)) for path, text, roles in MENU if viewer.has(*roles)]


def pre_token(request: Request) -> str:
    """The anonymous CSRF token: the cookie's, or a new one set on the answer."""
    known = request.cookies.get(PRE_COOKIE, "")
    if 20 <= len(known) <= 100:
        return known
    fresh: str = getattr(request.state, "new_pre", "") or secrets.token_urlsafe(24)
    request.state.new_pre = fresh
    return fresh


def page(
    request: Request,
    template: str,
    viewer: Viewer | None,
    *,
    status: int = 200,
    title: str = "",
    **context: Any,
) -> HTMLResponse:
    catalogues = i18n.catalogues()
    lang = i18n.current_language.get()
    body = render(
        template,
        {
            "request": request,
            "viewer": viewer,
            "lang": lang,
            "dir": catalogues.languages[lang].direction,
            "languages": list(catalogues.languages.values()),
            "csrf": viewer.csrf if viewer else pre_token(request),
            "menu": menu_for(viewer),
            "path": request.url.path,
            "title": title,
            **context,
        },
    )
    return HTMLResponse(body, status_code=status)


def message_page(
    request: Request,
    viewer: Viewer | None,
    *,
    status: int,
    title: str,
    text: str,
    link: tuple[str, str] | None = None,
) -> HTMLResponse:
    return page(request, "message.html", viewer, status=status, title=title, text=text, link=link)


def not_found(request: Request, viewer: Viewer | None) -> HTMLResponse:
    """The one answer for a record that does not exist and for another agency's record."""
    return message_page(
        request,
        viewer,
        status=404,
        title=i18n._("Not found"),
        text=i18n._(
            "There is nothing at this address, or it is not yours to see. Check the link, or "
            "go back to your list."
        ),
        link=("/", i18n._("Back to my screens")),
    )


def forbidden(request: Request, viewer: Viewer | None) -> HTMLResponse:
    return message_page(
        request,
        viewer,
        status=403,
        title=i18n._("Not available to your role"),
        text=i18n._(
            "Your role does not give access to this screen. If you need it, ask your agency "
            "administrator."
        ),
        link=("/", i18n._("Back to my screens")),
    )


def unavailable(request: Request, viewer: Viewer | None, retry_after: int | None) -> HTMLResponse:
    text = i18n._("A service Relais needs does not answer right now. Try again in a moment.")
    if retry_after:
        text = i18n._(
            "A service Relais needs does not answer right now. Try again in %(s)s seconds.",
            s=retry_after,
        )
    return message_page(
        request, viewer, status=503, title=i18n._("Not available right now"), text=text
    )
