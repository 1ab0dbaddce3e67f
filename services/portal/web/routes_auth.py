"""Signing in and out: local accounts (email and password, with the throttle), the set-up and
reset links, the language, and the landing page."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.portal.app import credentials, sessions
from services.portal.domain import accounts as rules
from services.portal.read import accounts as account_rows
from services.portal.web import i18n
from services.portal.web.context import portal_of
from services.portal.web.forms import FormState
from services.portal.web.i18n import _
from services.portal.web.pages import menu_for, message_page, page
from services.portal.web.security import (
    as_text,
    clear_session_cookie,
    posted,
    posted_anonymously,
    set_language_cookie,
    set_session_cookie,
    viewer_of,
)
from shared.domain import DomainError
from shared.eventstore import EventStoreError

log = logging.getLogger(__name__)
router = APIRouter()


def safe_next(value: str | None) -> str:
    """Only a path of this site: never another site (open redirect)."""
    if value and value.startswith("/") and not value.startswith(("//", "/\\")) and len(value) < 500:
        return value
    return "/"


@router.get("/", response_class=HTMLResponse)
async def home(request: Request) -> Response:
    viewer = await viewer_of(request)
    if viewer is None:
        return RedirectResponse("/signin", status_code=303)
    entries = menu_for(viewer)
    if entries:  # straight to the person's first screen
        return RedirectResponse(entries[0][0], status_code=303)
    return page(request, "home.html", viewer, title=_("Welcome"))


def signin_page(
    request: Request,
    f: FormState,
    *,
    status: int = 200,
    notice: str = "",
    notice_kind: str = "info",
    next_path: str = "/",
    resume: list[tuple[str, str]] | None = None,
    resume_to: str = "",
    resume_account: str = "",
) -> HTMLResponse:
    return page(
        request,
        "auth/signin.html",
        None,
        status=status,
        title=_("Sign in"),
        f=f,
        notice=notice,
        notice_kind=notice_kind,
        next=next_path,
        oidc=portal_of(request).oidc is not None,
        resume=resume or [],
        resume_to=resume_to,
        resume_account=resume_account,
    )


@router.get("/signin", response_class=HTMLResponse)
async def signin_form(request: Request) -> Response:
    if await viewer_of(request) is not None:
        return RedirectResponse(safe_next(request.query_params.get("next")), status_code=303)
    notices = {
        "expired": (_("Your session has ended. Sign in again to continue."), "warn"),
        "out": (_("You are signed out."), "ok"),
        "all": (_("You are signed out on every device."), "ok"),
    }
    notice, kind = notices.get(request.query_params.get("why", ""), ("", "info"))
    return signin_page(
        request,
        FormState.of(),
        notice=notice,
        notice_kind=kind,
        next_path=safe_next(request.query_params.get("next")),
    )


@router.post("/signin", response_class=HTMLResponse)
async def signin(request: Request) -> Response:
    portal = portal_of(request)
    form = await posted_anonymously(request)
    email = rules.normalise_email(as_text(form.get("email")))
    password = as_text(form.get("password"))
    next_path = safe_next(as_text(form.get("next")))
    resume = [
        (k.removeprefix("resume:"), v)
        for k, v in form.multi_items()
        if k.startswith("resume:") and isinstance(v, str)
    ]
    resume_to = safe_next(as_text(form.get("resume_to"))) if form.get("resume_to") else ""
    resume_account = as_text(form.get("resume_account"))
    f = FormState.of({"email": email})
    if not email or not password:
        if not email:
            f.add("email", _("Enter your email address."))
        if not password:
            f.add("password", _("Enter your password."))
        return signin_page(
            request,
            f,
            status=422,
            next_path=next_path,
            resume=resume,
            resume_to=resume_to,
            resume_account=resume_account,
        )
    row = await account_rows.by_email(portal.engine, email)
    usable = row is not None and not row.disabled
    outcome = await credentials.attempt(
        portal.engine,
        email=email,
        account_id=row.account_id if usable and row is not None else None,
        password=password,
        rules=portal.config.throttle,
    )
    if outcome.account_id is None:
        verdict = outcome.verdict
        if verdict.locked_until is not None:
            until = i18n.when(verdict.locked_until)
            f.general.append(
                _(
                    "Too many failed attempts: this account is locked until %(until)s. Wait, "
                    "or ask your agency administrator for a new link.",
                    until=until,
                )
            )
            status = 429
        elif not verdict.allowed:
            f.general.append(
                _(
                    "Too many failed attempts in a row. Wait %(s)s seconds, then try again.",
                    s=max(1, round(verdict.wait_s)),
                )
            )
            status = 429
        else:
            f.add("password", _("The email address or the password is not right."))
            status = 401
        return signin_page(
            request,
            f,
            status=status,
            next_path=next_path,
            resume=resume,
            resume_to=resume_to,
            resume_account=resume_account,
        )
    token = await sessions.open_session(portal.engine, kind="local", account_id=outcome.account_id)
    log.info("signed in (local)")
    # The same person whose session ended while typing gets their form back; anyone else
    # signing in on the same device does not see it.
    same_person = as_text(form.get("resume_account")) == outcome.account_id
    response: Response
    if resume and resume_to and same_person:
        found = await sessions.find(portal.engine, token, portal.config.lifetimes)
        assert found.session is not None
        response = page(
            request,
            "auth/continue.html",
            None,
            title=_("Signed in"),
            resume=resume,
            resume_to=resume_to,
            csrf=found.session.csrf,
        )
    else:
        response = RedirectResponse(next_path, status_code=303)
    set_session_cookie(request, response, token)
    return response


@router.post("/signout")
async def signout(request: Request) -> Response:
    p = await posted(request)
    await sessions.end(portal_of(request).engine, p.viewer.session.token_hash)
    response = RedirectResponse("/signin?why=out", status_code=303)
    clear_session_cookie(request, response)
    return response


@router.post("/signout/everywhere")
async def signout_everywhere(request: Request) -> Response:
    p = await posted(request)
    await sessions.end_all(portal_of(request).engine, p.viewer.user)
    response = RedirectResponse("/signin?why=all", status_code=303)
    clear_session_cookie(request, response)
    return response


@router.post("/language")
async def choose_language(request: Request) -> Response:
    viewer = await viewer_of(request)
    form = (await posted(request)).form if viewer is not None else await posted_anonymously(request)
    code = i18n.catalogues().choose(as_text(form.get("language")))
    response = RedirectResponse(safe_next(as_text(form.get("next"))), status_code=303)
    set_language_cookie(request, response, code)
    return response


# -- set-up and reset links --------------------------------------------------------------------


def _link_dead(request: Request) -> HTMLResponse:
    return message_page(
        request,
        None,
        status=410,
        title=_("This link no longer works"),
        text=_(
            "It has expired, has already been used, or a newer link replaced it. Ask your "
            "agency administrator for a new link."
        ),
    )


@router.get("/setup/{token}", response_class=HTMLResponse)
async def setup_form(token: str, request: Request) -> Response:
    portal = portal_of(request)
    link = portal.accounts.links.read(token)
    account = await portal.accounts.usable(link) if link else None
    if link is None or account is None:
        return _link_dead(request)
    return page(
        request,
        "auth/setup.html",
        None,
        title=_("Choose your password"),
        f=FormState.of(),
        token=token,
        email=account.email,
    )


@router.post("/setup/{token}", response_class=HTMLResponse)
async def setup(token: str, request: Request) -> Response:
    portal = portal_of(request)
    form = await posted_anonymously(request)
    link = portal.accounts.links.read(token)
    account = await portal.accounts.usable(link) if link else None
    if link is None or account is None:
        return _link_dead(request)
    password, confirmation = as_text(form.get("password")), as_text(form.get("confirmation"))
    f = FormState.of()
    try:
        rules.check_password(password, confirmation)
        await portal.accounts.password_chosen(link)
    except DomainError as exc:
        if exc.status == 410:
            return _link_dead(request)
        f.add(exc.field or "password", i18n.localised(exc.message))
    except EventStoreError as exc:
        log.warning("password not recorded: %s", type(exc).__name__)
        f.general.append(_("Not saved: the system could not store it right now. Try again."))
    if f.has_errors:
        return page(
            request,
            "auth/setup.html",
            None,
            status=422,
            title=_("Choose your password"),
            f=f,
            token=token,
            email=account.email,
        )
    hashed = await credentials.hash_password(password)
    await credentials.store_password(portal.engine, account.account_id, hashed, link.issued_at)
    # A reset ends every session the account had: whoever knew the old password is out.
    await sessions.end_all(portal.engine, account.account_id)
    log.info("password set through a link")
    session = await sessions.open_session(
        portal.engine, kind="local", account_id=account.account_id
    )
    response = RedirectResponse("/", status_code=303)
    set_session_cookie(request, response, session)
    return response
