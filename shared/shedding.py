"""Overload is shed early: at most ``limit`` commands (requests that may write: every method
but GET, HEAD and OPTIONS) run at once in a service process; one more is answered at once
``503 overloaded`` with ``Retry-After: 1``, before any route, token check or append runs.

It keeps the honest-answer rules (decision 0011): the shed request never reached the
application, so nothing was sent to the log and nothing will be applied later; the body says
``stored: false``. Sent again (with the same ``Idempotency-Key``), it is stored once.

Why: under a queue that grows, every request waits behind all the others (issue 19 saw the
median answer at minutes and connections failing at 100 registrations a second). Answering
the excess at once keeps the admitted commands fast and tells the others when to come back.
Reads are never shed here: they append nothing but access records, and a person reading a
case must not be refused because others are writing."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from shared.i18n import Message, language, localise

RETRY_AFTER_S = 1
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

OVERLOADED = Message(
    en="This service is busy with other requests, so nothing was saved and nothing will be "
    "saved later. Send it again in a second.",
    fr="Ce service traite déjà d'autres demandes : rien n'a été enregistré et rien ne le sera "
    "plus tard. Renvoyez la demande dans une seconde.",
)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Any]]
Send = Callable[[Any], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or ():
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def overloaded_body(accept_language: str | None) -> dict[str, Any]:
    """The shape of :func:`shared.http.error_body`, with what the client needs to retry."""
    message = localise(OVERLOADED, language(accept_language))
    return {
        "error": {
            "code": "overloaded",
            "message": message,
            "stored": False,
            "retry_after_s": RETRY_AFTER_S,
        }
    }


class CommandShedding:
    """A pure ASGI middleware: counts the commands in flight (one event loop, so a plain
    counter) and answers the excess before the application sees it."""

    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        if limit < 1:
            raise ValueError("at least one command must be allowed in flight")
        self.app = app
        self.limit = limit
        self.in_flight = 0
        self.shed = 0  # answered 503 since start (read by tests and the bench)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "http" or scope.get("method") in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.limit:
            self.shed += 1
            await self._answer_overloaded(scope, send)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1

    async def _answer_overloaded(self, scope: Scope, send: Send) -> None:
        # The request body is left unread: the server discards it with the connection's
        # next request, as for any answer given before the body was read.
        body = json.dumps(
            overloaded_body(_header(scope, b"accept-language")), ensure_ascii=False
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 503,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"retry-after", str(RETRY_AFTER_S).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
