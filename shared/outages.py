"""Honest answers when something fails, the same for every route of every service:

* the request stored events, whatever failed after (read model late, database gone, a later
  step): ``202 Accepted`` with the resource's id and ``Location``; it is in the log, and its
  read model will show it;
* nothing stored and the log (NATS) unreachable: ``503`` with ``Retry-After``, naming the
  cause; nothing was sent, so nothing will be applied later;
* nothing stored and the service's database unreachable: ``503`` likewise;
* the append was sent and the log vanished before answering, and stayed away: ``504``, the
  outcome is unknown; the same command sent again with the same ``Idempotency-Key`` is stored
  at most once;
* anything else: ``500`` without details (a bug; the log has the exception's type).

The HTTP layer opens a request ledger (:mod:`shared.request_ledger`) for each request; the
event store notes every acknowledged append in it."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc
from starlette.routing import Match

from shared.eventstore import AppendOutcomeUnknown, LogUnavailable
from shared.i18n import Message, language, localise
from shared.reading import ReadError
from shared.request_ledger import RequestLedger, close_ledger, open_ledger

log = logging.getLogger(__name__)

RETRY_AFTER_S = 5

ACCEPTED = Message(
    en="Saved. It may take a moment before it shows everywhere.",
    fr="Enregistré. Il peut falloir un instant avant que cela apparaisse partout.",
)
LOG_DOWN = Message(
    en="The event log (NATS) cannot be reached, so nothing was saved and nothing will be "
    "saved later. Try again in a few seconds.",
    fr="Le journal des événements (NATS) est injoignable : rien n'a été enregistré et rien ne "
    "le sera plus tard. Réessayez dans quelques secondes.",
)
DATABASE_DOWN = Message(
    en="This service's database (PostgreSQL) cannot be reached, so nothing was saved and "
    "nothing will be saved later. Try again in a few seconds.",
    fr="La base de données de ce service (PostgreSQL) est injoignable : rien n'a été "
    "enregistré et rien ne le sera plus tard. Réessayez dans quelques secondes.",
)
OUTCOME_UNKNOWN = Message(
    en="The event log (NATS) stopped answering while your request was being saved, and we "
    "cannot tell whether it was. Send it again with the same Idempotency-Key: it will be "
    "saved once.",
    fr="Le journal des événements (NATS) a cessé de répondre pendant l'enregistrement, et nous "
    "ne savons pas s'il a eu lieu. Renvoyez la demande avec la même clé Idempotency-Key : "
    "elle ne sera enregistrée qu'une fois.",
)
INTERNAL = Message(
    en="Something went wrong on our side. Please try again; if it persists, tell your "
    "administrator.",
    fr="Une erreur s'est produite de notre côté. Veuillez réessayer ; si elle persiste, "
    "prévenez votre administrateur.",
)


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _is_log_outage(exc: BaseException) -> bool:
    import nats.errors

    from shared.nats_link import closed_under

    return isinstance(exc, LogUnavailable | ReadError | nats.errors.Error) or closed_under(exc)


def _is_database_outage(exc: BaseException) -> bool:
    import asyncpg

    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(
        exc,
        sa_exc.OperationalError
        | sa_exc.InterfaceError
        | sa_exc.TimeoutError
        | asyncpg.PostgresConnectionError
        | asyncpg.InterfaceError
        | asyncpg.CannotConnectNowError
        | ConnectionError,
    )


def cause_of(exc: BaseException) -> str | None:
    """'log', 'database' or None: which outage (if any) an exception comes from."""
    chain = _chain(exc)
    if any(_is_log_outage(e) for e in chain):
        return "log"
    if any(_is_database_outage(e) for e in chain):
        return "database"
    return None


def _body(request: Request, code: str, message: Message, **extra: Any) -> dict[str, Any]:
    # The shape of shared.http.error_body (which imports this module).
    lang = language(request.headers.get("accept-language"))
    return {"error": {"code": code, "message": localise(message, lang), **extra}}


def _location(request: Request, resource_id: str) -> str | None:
    """Where the stored resource can be read: the request's path up to its id, or the
    collection it was posted to followed by the id; only if a GET route answers there."""
    path = request.url.path.rstrip("/")
    parts = path.split("/")
    candidate = (
        "/".join(parts[: parts.index(resource_id) + 1])
        if resource_id in parts
        else f"{path}/{resource_id}"
    )
    scope = {"type": "http", "path": candidate, "method": "GET", "root_path": ""}
    for route in request.app.router.routes:
        match, _ = route.matches(scope)
        if match == Match.FULL:
            return candidate
    return None


def accepted(request: Request, ledger: RequestLedger) -> JSONResponse:
    first = ledger.stored[0]
    location = _location(request, first.aggregate_id)
    body: dict[str, Any] = {
        "status": "accepted",
        f"{first.aggregate_type}_id": first.aggregate_id,
        "resource": {"type": first.aggregate_type, "id": first.aggregate_id},
        "location": location,
        "events": [
            {"stream": e.stream, "seq": e.seq, "id": e.id, "type": e.type} for e in ledger.stored
        ],
        "message": _body(request, "accepted", ACCEPTED)["error"]["message"],
    }
    headers = {"Location": location} if location else None
    return JSONResponse(body, status_code=202, headers=headers)


def unavailable(request: Request, cause: str) -> JSONResponse:
    message = LOG_DOWN if cause == "log" else DATABASE_DOWN
    code = "log_unavailable" if cause == "log" else "database_unavailable"
    body = _body(request, code, message, cause=cause, stored=False, retry_after_s=RETRY_AFTER_S)
    return JSONResponse(body, status_code=503, headers={"Retry-After": str(RETRY_AFTER_S)})


def answer_failure(
    request: Request, exc: BaseException, ledger: RequestLedger | None
) -> JSONResponse:
    """The answer to a request that raised ``exc`` after storing what ``ledger`` says."""
    if ledger is not None and ledger.stored:
        log.warning("stored, then %s: answering 202", type(exc).__name__)
        return accepted(request, ledger)
    if isinstance(exc, AppendOutcomeUnknown) or (ledger is not None and ledger.uncertain):
        log.warning("append outcome unknown: answering 504")
        body = _body(request, "outcome_unknown", OUTCOME_UNKNOWN, stored=None)
        return JSONResponse(body, status_code=504, headers={"Retry-After": str(RETRY_AFTER_S)})
    cause = cause_of(exc)
    if cause is not None:
        log.warning("%s unavailable (%s): answering 503", cause, type(exc).__name__)
        return unavailable(request, cause)
    # The type only, and no path: an exception's text or a URL may quote a child's data.
    log.error("unhandled %s on %s", type(exc).__name__, request.method)
    return JSONResponse(_body(request, "internal_error", INTERNAL), status_code=500)


Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Any]]
Send = Callable[[Any], Awaitable[None]]


class HonestAnswers:
    """What a request stored is noted in its ledger; whatever fails afterwards, the answer
    says what happened (202 stored, 503 not stored, never a 500 for a stored request).

    A pure ASGI middleware: Starlette's ``BaseHTTPMiddleware`` (``@app.middleware``) ran
    every request in a task of its own and streamed its answer through a memory channel,
    which cost every request a few hundred microseconds of the one event loop the
    projectors share (decision 0026)."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        ledger, token = open_ledger()
        started = False

        async def sending(message: Any) -> None:
            nonlocal started
            if message.get("type") == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception as exc:
            if started:  # an answer is on its way: it cannot be replaced, only cut
                raise
            await answer_failure(Request(scope), exc, ledger)(scope, receive, send)
        finally:
            close_ledger(token)
