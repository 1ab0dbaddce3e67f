"""Signing in with the identity provider (OpenID Connect, authorization code with PKCE): the
start, which remembers the attempt for the browser that made it, and the provider's redirect
back, usable once, by that browser, within ten minutes."""

from __future__ import annotations

import asyncio
import hmac
import logging
from datetime import UTC, datetime, timedelta

import httpx
from authlib.integrations.base_client import OAuthError
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import delete

from services.portal.app import credentials, sessions
from services.portal.app.oidc import OidcError
from services.portal.read.tables import oidc_pending
from services.portal.web.context import portal_of
from services.portal.web.i18n import _
from services.portal.web.pages import PRE_COOKIE, message_page, pre_token
from services.portal.web.routes_auth import safe_next
from services.portal.web.security import set_session_cookie
from shared.auth import AuthError

log = logging.getLogger(__name__)
router = APIRouter()


@router.get("/signin/start")
async def oidc_start(request: Request) -> Response:
    portal = portal_of(request)
    if portal.oidc is None:
        return RedirectResponse("/signin", status_code=303)
    started = await portal.oidc.start()
    browser = credentials.email_key(pre_token(request))
    async with portal.engine.begin() as conn:
        await conn.execute(
            oidc_pending.insert().values(
                state=started.state,
                browser=browser,
                code_verifier=started.code_verifier,
                nonce=started.nonce,
                next_path=safe_next(request.query_params.get("next")),
                created_at=datetime.now(UTC),
            )
        )
    return RedirectResponse(started.url, status_code=303)


@router.get("/signin/callback", response_class=HTMLResponse)
async def oidc_callback(request: Request) -> Response:
    portal = portal_of(request)
    state = request.query_params.get("state", "")[:128]
    code = request.query_params.get("code", "")[:2000]
    if portal.oidc is None or not state or not code:
        return _oidc_refused(request)
    async with portal.engine.begin() as conn:
        # One use only, by the browser that started it, within ten minutes.
        pending = (
            await conn.execute(
                delete(oidc_pending).where(oidc_pending.c.state == state).returning(oidc_pending)
            )
        ).first()
    fresh = pending is not None and datetime.now(UTC) - pending.created_at < timedelta(minutes=10)
    same_browser = pending is not None and hmac.compare_digest(
        pending.browser, credentials.email_key(request.cookies.get(PRE_COOKIE, ""))
    )
    if pending is None or not fresh or not same_browser:
        return _oidc_refused(request)
    try:
        tokens = await portal.oidc.finish(code, pending.code_verifier, pending.nonce)
        assert portal.verifier is not None
        principal = await asyncio.to_thread(portal.verifier.verify, tokens.access_token)
    except (OidcError, AuthError, httpx.HTTPError, OAuthError) as exc:
        log.warning("identity provider sign-in refused: %s", type(exc).__name__)
        return _oidc_refused(request)
    name = tokens.id_claims.get("name") or tokens.id_claims.get("email") or principal.user
    token = await sessions.open_session(
        portal.engine,
        kind="oidc",
        account_id=principal.user,
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        access_expires_at=tokens.expires_at,
        display_name=str(name)[:200],
    )
    log.info("signed in (identity provider)")
    response = RedirectResponse(pending.next_path, status_code=303)
    set_session_cookie(request, response, token)
    return response


def _oidc_refused(request: Request) -> HTMLResponse:
    return message_page(
        request,
        None,
        status=400,
        title=_("The sign-in did not succeed"),
        text=_("Start again from the sign-in page."),
        link=("/signin", _("Sign in")),
    )
