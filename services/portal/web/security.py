"""Who is signed in, and the checks every state-changing request passes: the session (idle and
absolute expiry), the CSRF token, the origin. A form posted after its session expired comes
back on the sign-in page with what was typed, so nothing is lost."""

from __future__ import annotations

import asyncio
import hmac
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from services.portal.app import sessions
from services.portal.read import accounts as account_rows
from services.portal.web import i18n
from services.portal.web.context import Portal, Viewer, portal_of
from services.portal.web.pages import LANG_COOKIE, PRE_COOKIE, SESSION_COOKIE
from shared.auth import AuthError

log = logging.getLogger(__name__)
SERVICE_TOKEN_TTL_S = 600
# An identity provider's access token this close to expiry is refreshed first.
REFRESH_MARGIN = timedelta(seconds=30)
MAX_FIELDS = 400  # a report with many children; far below what would strain the server


class SignInRequired(Exception):
    """No live session: sign in (again), keeping a posted form's values."""

    def __init__(self, expired: bool, form: FormData | None = None, account: str | None = None):
        super().__init__("sign in")
        self.expired = expired
        self.form = form
        self.account = account


class CsrfRefused(Exception):
    """A state-changing request without this session's token, or from another origin."""


@dataclass(frozen=True)
class Posted:
    viewer: Viewer
    form: FormData

    def get(self, name: str, default: str = "") -> str:
        value = self.form.get(name)
        return value.strip() if isinstance(value, str) else default

    def all(self, name: str) -> list[str]:
        return [v.strip() for v in self.form.getlist(name) if isinstance(v, str) and v.strip()]

    @property
    def review(self) -> bool:
        """Sent back after signing in again: show the form filled, do not save yet."""
        return self.get("_review") == "1"

    @property
    def idempotency_key(self) -> str:
        key = self.get("idem")
        return key if 8 <= len(key) <= 100 else ""


def secure_cookies(request: Request) -> bool:
    mode = portal_of(request).config.secure_cookies
    return mode == "always" or (mode == "auto" and request.url.scheme == "https")


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    portal = portal_of(request)
    # Strict where it works: a local sign-in is a same-site form. The identity provider's
    # redirect back is a cross-site navigation, which a Strict cookie would not follow.
    same_site: Literal["lax", "strict"] = "lax" if portal.oidc is not None else "strict"
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(portal.config.lifetimes.absolute.total_seconds()),
        httponly=True,
        secure=secure_cookies(request),
        samesite=same_site,
        path="/",
    )


def clear_session_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, secure=secure_cookies(request), samesite="lax"
    )


def set_anonymous_cookies(request: Request, response: Response) -> None:
    fresh = getattr(request.state, "new_pre", "")
    if fresh:
        response.set_cookie(
            PRE_COOKIE,
            fresh,
            max_age=12 * 3600,
            httponly=True,
            secure=secure_cookies(request),
            samesite="lax",
            path="/",
        )


def set_language_cookie(request: Request, response: Response, code: str) -> None:
    response.set_cookie(
        LANG_COOKIE,
        code,
        max_age=365 * 24 * 3600,
        httponly=True,
        secure=secure_cookies(request),
        samesite="lax",
        path="/",
    )


async def viewer_of(request: Request) -> Viewer | None:
    """The signed-in person, or None (remembering whether a session just expired)."""
    if hasattr(request.state, "viewer"):
        cached: Viewer | None = request.state.viewer
        return cached
    portal = portal_of(request)
    found = await sessions.find(
        portal.engine, request.cookies.get(SESSION_COOKIE), portal.config.lifetimes
    )
    request.state.expired_session = found.expired
    request.state.expired_account = found.account_id
    viewer = None
    if found.session is not None:
        viewer = await _viewer(request, found.session)
        if viewer is None:  # the account was disabled or its token can no longer be had
            await sessions.end(portal.engine, found.session.token_hash)
            request.state.expired_session = True
    request.state.viewer = viewer
    return viewer


async def _viewer(request: Request, session: sessions.Session) -> Viewer | None:
    portal = portal_of(request)
    lang = i18n.current_language.get()
    if session.kind == "oidc":
        return await viewer_from_tokens(portal, session, lang)
    row = await account_rows.by_id(portal.engine, session.account_id)
    if row is None or row.disabled or portal.issuer is None:
        return None
    token = portal.issuer.mint(
        user=row.account_id,
        agency=row.agency,
        roles=list(row.roles),
        unit=row.unit,
        ttl_s=SERVICE_TOKEN_TTL_S,
    )
    return Viewer(
        session=session,
        user=row.account_id,
        email=row.email,
        name=row.display_name or row.email,
        agency=row.agency,
        unit=row.unit,
        roles=frozenset(row.roles),
        token=token,
        language=lang,
    )


async def signed_in(request: Request) -> Viewer:
    viewer = await viewer_of(request)
    if viewer is None:
        raise SignInRequired(bool(getattr(request.state, "expired_session", False)))
    return viewer


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.headers.get("host", "")


async def read_form(request: Request) -> FormData:
    return await request.form(max_files=0, max_fields=MAX_FIELDS)


async def posted(request: Request) -> Posted:
    """A signed-in person's form, after the CSRF and origin checks."""
    form = await read_form(request)
    viewer = await viewer_of(request)
    if viewer is None:
        raise SignInRequired(
            bool(getattr(request.state, "expired_session", False)),
            form,
            getattr(request.state, "expired_account", None),
        )
    sent = form.get("csrf")
    if (
        not isinstance(sent, str)
        or not hmac.compare_digest(sent, viewer.csrf)
        or not _same_origin(request)
    ):
        log.warning("CSRF check refused a %s", request.method)
        raise CsrfRefused()
    return Posted(viewer, form)


async def posted_anonymously(request: Request) -> FormData:
    """A form of someone not signed in (sign-in, set-up): the double-submit cookie check."""
    form = await read_form(request)
    sent, cookie = form.get("csrf"), request.cookies.get(PRE_COOKIE, "")
    if (
        not isinstance(sent, str)
        or not cookie
        or not hmac.compare_digest(sent, cookie)
        or not _same_origin(request)
    ):
        log.warning("CSRF check refused an anonymous %s", request.method)
        raise CsrfRefused()
    return form


def resume_fields(form: FormData | None) -> list[tuple[str, str]]:
    """What a person typed into a form whose session expired, to carry through sign-in."""
    if form is None:
        return []
    skip = {"csrf", "password", "_review"}
    return [(k, v) for k, v in form.multi_items() if isinstance(v, str) and k not in skip]


def local_now(request: Request) -> datetime:
    return datetime.now(UTC).astimezone(portal_of(request).config.time_zone)


def as_text(value: Any) -> str:
    return value if isinstance(value, str) else ""


async def viewer_from_tokens(portal: Portal, session: sessions.Session, lang: str) -> Viewer | None:
    """The person of an identity-provider session, refreshing the access token when it is
    about to expire; None when it can no longer be had (sign in again)."""
    assert portal.verifier is not None and portal.oidc is not None
    access = session.access_token or ""
    expires = session.access_expires_at
    if expires is not None and expires - REFRESH_MARGIN < datetime.now(UTC):
        if not session.refresh_token:
            return None
        try:
            fresh = await portal.oidc.refresh(session.refresh_token)
        except Exception as exc:  # an unusable answer ends the session, whatever it was
            log.warning("token refresh failed: %s", type(exc).__name__)
            return None
        await sessions.update_tokens(
            portal.engine,
            session.token_hash,
            access_token=fresh.access_token,
            refresh_token=fresh.refresh_token or session.refresh_token,
            access_expires_at=fresh.expires_at,
        )
        access = fresh.access_token
    try:
        principal = await asyncio.to_thread(portal.verifier.verify, access)
    except AuthError:
        return None
    return Viewer(
        session=session,
        user=principal.user,
        email="",
        name=session.display_name or principal.user,
        agency=principal.agency,
        unit=principal.unit,
        roles=frozenset(r.value for r in principal.roles),
        token=access,
        language=lang,
        local=False,
    )
