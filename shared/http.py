"""HTTP conventions shared by every service: error bodies a person can read, in French or
English (``Accept-Language``), and never a stack trace."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from shared.causation import command_scope
from shared.domain import DomainError
from shared.eventstore import ConcurrencyConflict, IdempotencyKeyReused
from shared.i18n import Message, language, localise, validation_reason

log = logging.getLogger(__name__)


class ApiError(DomainError):
    """An answer to a request that cannot be carried out, raised by the HTTP layer (status
    first, as HTTP code reads); the domain raises :class:`DomainError` itself."""

    def __init__(
        self,
        status: int,
        code: str,
        message: Message,
        *,
        field: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(code, message, status=status, field=field, extra=extra)


IDEMPOTENCY_KEY_MAX = 200


def idempotency_key(request: Request) -> str | None:
    """The request's ``Idempotency-Key``: a retry sending the same key stores nothing new."""
    key = request.headers.get("Idempotency-Key")
    if key is not None and not 0 < len(key) <= IDEMPOTENCY_KEY_MAX:
        raise ApiError(
            422,
            "invalid_idempotency_key",
            Message(
                en="Idempotency-Key must have 1 to 200 characters.",
                fr="Idempotency-Key doit compter de 1 à 200 caractères.",
            ),
            field="Idempotency-Key",
        )
    return key


def error_body(request: Request, code: str, message: Message, **extra: Any) -> dict[str, Any]:
    lang = language(request.headers.get("accept-language"))
    return {"error": {"code": code, "message": localise(message, lang), **extra}}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        lang = language(request.headers.get("accept-language"))
        fields = []
        for err in exc.errors():
            loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
            fields.append(
                {
                    "field": ".".join(loc) or "body",
                    "reason": localise(validation_reason(err), lang),
                    "type": err.get("type"),
                }
            )
        body = error_body(
            request,
            "invalid_request",
            Message(en="The request is not valid.", fr="La requête n'est pas valide."),
            fields=fields,
        )
        return JSONResponse(body, status_code=422)

    @app.exception_handler(DomainError)
    async def refused(request: Request, exc: DomainError) -> JSONResponse:
        extra = dict(exc.extra)
        if exc.field:
            extra["field"] = exc.field
        return JSONResponse(
            error_body(request, exc.code, exc.message, **extra), status_code=exc.status
        )

    @app.exception_handler(ConcurrencyConflict)
    async def conflict(request: Request, exc: ConcurrencyConflict) -> JSONResponse:
        body = error_body(
            request,
            "version_conflict",
            Message(
                en="This record was changed by someone else. Reload it and try again.",
                fr="Ce dossier a été modifié par quelqu'un d'autre. Rechargez-le et réessayez.",
            ),
            expected_version=exc.expected,
            current_version=exc.actual,
        )
        return JSONResponse(body, status_code=409)

    @app.exception_handler(IdempotencyKeyReused)
    async def key_reused(request: Request, exc: IdempotencyKeyReused) -> JSONResponse:
        body = error_body(
            request,
            "idempotency_key_reused",
            Message(
                en="This Idempotency-Key was already used for a different request on this "
                "record. Send a new key with a new request.",
                fr="Cette clé Idempotency-Key a déjà servi pour une autre demande sur ce "
                "dossier. Envoyez une nouvelle clé avec une nouvelle demande.",
            ),
            field="Idempotency-Key",
        )
        return JSONResponse(body, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = {
            404: Message(en="Not found.", fr="Introuvable."),
            405: Message(en="Method not allowed.", fr="Méthode non autorisée."),
        }.get(exc.status_code, Message(en=str(exc.detail), fr=str(exc.detail)))
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:
            # Every method the path allows, not only those of the route matched first.
            headers["Allow"] = ", ".join(allowed_methods(request)) or headers.get("Allow", "")
        return JSONResponse(
            error_body(request, f"http_{exc.status_code}", message),
            status_code=exc.status_code,
            headers=headers or None,
        )

    app.add_exception_handler(Exception, unexpected_error)


def allowed_methods(request: Request) -> list[str]:
    """The methods some route of the app answers on this request's path."""
    from fastapi.routing import iter_route_contexts
    from starlette.routing import Route, compile_path

    # The most literal templates that match: /reports/{id}/retirement, not /reports/{id}/{period}.
    by_template: dict[str, set[str]] = {}
    for context in iter_route_contexts(request.app.routes):
        if isinstance(context.original_route, Route) and context.path:
            regex, _, _ = compile_path(str(context.path))
            if regex.match(request.url.path):
                by_template.setdefault(str(context.path), set()).update(context.methods or ())
    if not by_template:
        return []
    fewest = min(template.count("{") for template in by_template)
    found = set().union(*(m for t, m in by_template.items() if t.count("{") == fewest))
    return sorted(found)


class CommandChains:
    """Every request is one person's command: its appends name no cause and share one chain
    (:mod:`shared.causation`). A plain ASGI middleware, so the chain is set before any other
    middleware or route runs and is seen by every task the request starts."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with command_scope():
            await self.app(scope, receive, send)


async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    """The last resort (Starlette's server error handler): the same honest answer as the
    service's own middleware gives (:mod:`shared.outages`)."""
    from shared.outages import answer_failure
    from shared.request_ledger import current

    return answer_failure(request, exc, current())
