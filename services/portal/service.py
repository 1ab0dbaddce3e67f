"""Wiring of the portal: the runtime every Relais process has (NATS, its signing key, its own
database, the account read model), the clients of the four services, the screens, and the
pages for what goes wrong. ``relais up`` runs it with ``python -m services.portal``."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.gzip import GZipMiddleware
from starlette.staticfiles import StaticFiles

from services.portal.app.accounts import AccountBook
from services.portal.app.api import Services
from services.portal.app.complaint_desk import ComplaintDesk
from services.portal.app.links import LinkSigner
from services.portal.app.sessions import sweep
from services.portal.config import PortalConfig
from services.portal.read import accounts as _account_handlers  # noqa: F401 - registers them
from services.portal.read.tables import own, projection
from services.portal.web import (
    i18n,
    routes_admin,
    routes_audit,
    routes_auth,
    routes_cases,
    routes_complaints,
    routes_duplicates,
    routes_oidc,
    routes_periodic,
    routes_referrals,
    routes_reports,
    routes_screening,
    routes_statistics,
    routes_supervision,
    routes_units,
    routes_workforce,
)
from services.portal.web.context import Portal, portal_of
from services.portal.web.forms import FormState
from services.portal.web.pages import LANG_COOKIE, message_page
from services.portal.web.security import (
    CsrfRefused,
    SignInRequired,
    resume_fields,
    set_anonymous_cookies,
    viewer_of,
)
from services.portal.web.templating import STATIC_DIR, static_version
from shared.auth import LocalIssuer
from shared.config import PORTAL, Settings, get_settings
from shared.db import create_tables
from shared.http import CommandChains
from shared.loops import raise_if_cancelling
from shared.service import Runtime, ServiceSpec, instrument

log = logging.getLogger(__name__)
SWEEP_S = 300.0


async def sweep_sessions(runtime: Runtime) -> None:
    """Forget expired sessions now and then."""
    config = PortalConfig.from_settings(runtime.settings)
    while True:
        await asyncio.sleep(SWEEP_S)  # the portal's own tables are made once the runtime runs
        try:
            if runtime.engine is not None:
                await sweep(runtime.engine, config.lifetimes)
        except Exception as exc:
            raise_if_cancelling(exc)
            log.warning("session sweep: %s", type(exc).__name__)


# The screens, in the order FastAPI tries them.
ROUTERS = (
    routes_auth.router,
    routes_oidc.router,
    routes_reports.router,
    routes_screening.router,
    routes_duplicates.router,
    routes_cases.router,
    routes_admin.router,
    routes_complaints.router,
    routes_periodic.router,
    routes_statistics.router,
    routes_audit.router,
    routes_referrals.router,
    routes_units.router,
    routes_supervision.router,
    routes_workforce.router,
)

spec = ServiceSpec(
    name=PORTAL,
    context="audit",
    title="Relais portal",
    description="The web application frontline staff use.",
    projections=[projection],
    background=[sweep_sessions],
)


def create_portal(
    settings: Settings | None = None,
    *,
    transports: dict[str, httpx.AsyncBaseTransport] | None = None,
) -> FastAPI:
    settings = settings or get_settings()
    config = PortalConfig.from_settings(settings)
    runtime = Runtime(spec, settings)
    portal = Portal(
        config=config,
        runtime=runtime,
        services=Services(
            config.service_urls, timeout_s=config.service_timeout_s, transports=transports
        ),
    )
    if config.oidc is None:
        portal.issuer = LocalIssuer.load(settings.keys_dir)
    portal.desk = ComplaintDesk.load_or_create(settings.keys_dir)
    portal.desk_issuer = portal.issuer or LocalIssuer.load(settings.keys_dir)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        try:
            assert runtime.engine is not None and runtime.store is not None
            async with runtime.engine.begin() as conn:
                await create_tables(conn, own)
            portal.book = AccountBook(
                store=runtime.store,
                site=settings.site,
                commit=runtime.commit,
                links=LinkSigner.load_or_create(settings.keys_dir),
                link_lifetime=config.link_lifetime,
                base_url=config.base_url,
            )
            if config.oidc is not None:
                from services.portal.app.oidc import OidcClient

                portal.oidc = OidcClient(config.oidc, f"{config.base_url}/signin/callback")
                portal.verifier = await portal.oidc.verifier(settings)
            yield
        finally:
            if portal.oidc is not None:
                await portal.oidc.close()
            await portal.services.close()
            await runtime.stop()

    app = FastAPI(
        title=spec.title, lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None
    )
    app.state.portal = portal
    app.state.runtime = runtime
    _pages_for_errors(app)

    @app.get("/health", include_in_schema=False)
    async def health() -> JSONResponse:
        ok, body = await runtime.health()
        return JSONResponse(body, status_code=200 if ok else 503)

    # Only the assets are compressed: pages carry a CSRF token beside what people typed,
    # which compression would expose to a length-guessing attacker (BREACH).
    app.mount(
        f"/static/{static_version()}",
        GZipMiddleware(StaticFiles(directory=STATIC_DIR), minimum_size=500),
        name="static",
    )
    for router in ROUTERS:
        app.include_router(router)
    _middleware(app)
    instrument(app)
    # Outermost: each request is one person's command, whose appends share one chain.
    app.add_middleware(CommandChains)
    return app


def _middleware(app: FastAPI) -> None:
    @app.middleware("http")
    async def context(request: Request, call_next: Any) -> Response:
        portal = portal_of(request)
        catalogues = i18n.catalogues()
        language = i18n.current_language.set(catalogues.choose(request.cookies.get(LANG_COOKIE)))
        zone = i18n.current_zone.set(portal.config.time_zone)
        try:
            try:
                response: Response = await call_next(request)
            except Exception as exc:  # the type only: its text may quote a child's data
                log.error("unhandled %s on %s", type(exc).__name__, request.method)
                response = message_page(
                    request,
                    None,
                    status=500,
                    title=i18n._("Something went wrong"),
                    text=i18n._(
                        "Something went wrong on our side. Go back and try again; if it "
                        "persists, tell your administrator."
                    ),
                )
            set_anonymous_cookies(request, response)
            _secure_headers(request, response)
            return response
        finally:
            i18n.current_language.reset(language)
            i18n.current_zone.reset(zone)


def _secure_headers(request: Request, response: Response) -> None:
    headers = response.headers
    if request.url.path.startswith("/static/"):
        headers["Cache-Control"] = "public, max-age=31536000, immutable"
    else:
        # Pages may show a child's name: never kept by the browser or a proxy (shared phones).
        headers["Cache-Control"] = "no-store"
    form_action = "'self'"
    oidc = portal_of(request).config.oidc
    if oidc is not None:
        form_action += f" {oidc.issuer}"
    headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src 'self'; form-action {form_action}; frame-ancestors 'none'; "
        "base-uri 'none'; object-src 'none'",
    )
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    if request.url.scheme == "https":
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")


def _pages_for_errors(app: FastAPI) -> None:
    @app.exception_handler(SignInRequired)
    async def sign_in_first(request: Request, exc: SignInRequired) -> Response:
        if exc.form is None:
            why = "&why=expired" if exc.expired else ""
            target = request.url.path
            return RedirectResponse(f"/signin?next={target}{why}", status_code=303)
        # A form posted after its session ended: the sign-in page carries what was typed.
        notice = i18n._("Your session has ended. Sign in again: what you typed is kept.")
        return routes_auth.signin_page(
            request,
            FormState.of(),
            status=401,
            notice=notice,
            notice_kind="warn",
            next_path=routes_auth.safe_next(request.url.path),
            resume=resume_fields(exc.form) if exc.account else [],
            resume_to=request.url.path if exc.account else "",
            resume_account=exc.account or "",
        )

    @app.exception_handler(CsrfRefused)
    async def csrf_refused(request: Request, exc: CsrfRefused) -> Response:
        return message_page(
            request,
            await viewer_of(request),
            status=403,
            title=i18n._("This form could not be accepted"),
            text=i18n._(
                "It was not sent from this page of Relais, or the page was too old. Go back, "
                "reload the page and send it again."
            ),
            link=("/", i18n._("Back to my screens")),
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        viewer = await viewer_of(request) if exc.status_code == 404 else None
        if exc.status_code == 404:
            from services.portal.web.pages import not_found

            return not_found(request, viewer)
        return message_page(
            request,
            viewer,
            status=exc.status_code,
            title=i18n._("This request could not be answered"),
            text=i18n._("Go back and try again."),
        )

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        return message_page(
            request,
            None,
            status=400,
            title=i18n._("This request could not be answered"),
            text=i18n._("Go back and try again."),
        )
