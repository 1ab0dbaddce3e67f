"""Commands on another site's aggregate travel to the owner over NATS request-reply.

When a command raises :class:`~shared.ownership.OwnedElsewhere`, this service sends the
HTTP request as it came (method, path, query, headers, including the caller's
``Authorization``, ``If-Match`` and ``Idempotency-Key``, and body) to the same service at
the owning site, on ``relais.forward.<owner>.<service>`` with the ``Relais-Owner-Site``
header, and answers with the owner's answer. The owner runs it through its own app, as if it
had come to its own door: authentication, permissions, the version check and the
idempotency key are its own, so a client that retries with the same key after an outage
gets the command applied once.

* No owner listening (the link between the sites is down, or the owner's service is):
  503 ``owned_by_another_site`` naming the owner, in French and English; nothing changed.
* Sent, no answer in time: 504 ``owner_did_not_answer`` (it may have been applied there; a
  retry with the same key says).
* A forwarded request is never forwarded again (``Relais-Forwarded-From``).

Versions: stream sequences differ between sites (a sourced copy gets a new one). A plain
``If-Match`` is this site's numbering (what a read here showed): it is translated to the
owner's from the copy's ``Nats-Stream-Source`` header. A forwarded answer's ``ETag`` names
the owner (``"hq.12"``); sent back in ``If-Match`` it goes to the owner as its own version.
(The ``version`` in a forwarded answer's body is the owner's numbering: send the ETag.)"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import Callable
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from nats import errors as nats_errors
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.envelope import Aggregate
from shared.http import error_body
from shared.nats_accounts import FORWARD_PREFIX
from shared.ownership import (
    OWNED_ELSEWHERE,
    OWNER_HEADER,
    OWNER_TIMEOUT,
    OwnedElsewhere,
    owned_elsewhere_message,
    owner_timeout_message,
    owning_site,
)

log = logging.getLogger(__name__)

FORWARDED_FROM = "Relais-Forwarded-From"
BODY_KEY = "relais.body"
FORWARD_TIMEOUT_S = 10.0
QUEUE = "forwarded"
# Hop-by-hop or recomputed: not carried either way.
_DROPPED = {"host", "content-length", "transfer-encoding", "connection", "keep-alive"}


def forward_subject(site: str, service: str) -> str:
    return f"{FORWARD_PREFIX}.{site}.{service}"


class KeepBody:
    """Keeps the body of a mutating request in its scope as it is read, so that a command
    found to be another site's can be sent on as it came."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        kept = bytearray()
        scope[BODY_KEY] = kept

        async def keeping() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                kept.extend(message.get("body", b""))
            return message

        await self.app(scope, keeping, send)


class Forwarder:
    """This service's side of forwarding: sends a request on to the owning site."""

    def __init__(
        self,
        nc: Callable[[], NATS | None],
        *,
        site: str,
        service: str,
        timeout_s: float = FORWARD_TIMEOUT_S,
    ) -> None:
        self.nc = nc
        self.site = site
        self.service = service
        self.timeout_s = timeout_s

    async def forward(self, request: Request, aggregate: Aggregate) -> Response:
        owner = aggregate.site
        nc = self.nc()
        if nc is None or not nc.is_connected or request.headers.get(FORWARDED_FROM):
            return _refusal(request, owner)
        headers = [[k, v] for k, v in request.headers.items() if k.lower() not in _DROPPED]
        for pair in headers:
            if pair[0].lower() == "if-match":
                pair[1] = await owner_version(nc, aggregate, pair[1])
        envelope = {
            "method": request.method,
            "path": request.url.path,
            "query": request.url.query,
            "headers": headers,
            "body": base64.b64encode(bytes(request.scope.get(BODY_KEY, b""))).decode(),
        }
        try:
            reply = await nc.request(
                forward_subject(owner, self.service),
                json.dumps(envelope).encode(),
                timeout=self.timeout_s,
                headers={OWNER_HEADER: owner, FORWARDED_FROM: self.site},
            )
        except nats_errors.NoRespondersError:
            return _refusal(request, owner)
        except TimeoutError:
            log.warning("forwarded %s: %s did not answer", _route(request), owner)
            return JSONResponse(
                error_body(request, OWNER_TIMEOUT, owner_timeout_message(owner), owner_site=owner),
                status_code=504,
                headers={OWNER_HEADER: owner},
            )
        except nats_errors.Error:
            return _refusal(request, owner)
        answer = json.loads(reply.data or b"{}")
        answered = {k: v for k, v in answer.get("headers", []) if k.lower() not in _DROPPED}
        answered[OWNER_HEADER] = owner
        etag = answered.pop("etag", None)
        if etag is not None:
            # The owner's numbering, said so: sent back in If-Match, it goes to the owner as is.
            answered["ETag"] = f'"{owner}.{etag.strip(chr(34))}"'
        log.info("forwarded %s to %s: %s", _route(request), owner, answer["status"])
        return Response(
            content=base64.b64decode(answer.get("body", "")),
            status_code=int(answer["status"]),
            headers=answered,
        )


async def owner_version(nc: NATS, aggregate: Aggregate, if_match: str) -> str:
    """The owner's version for an ``If-Match``: ``"<owner>.<n>"`` (a forwarded answer's ETag)
    is the owner's ``n``; a plain number is this site's sequence of its copy, whose
    ``Nats-Stream-Source`` header names the owner's. A number that is no copy of this
    aggregate here goes on unchanged, and the owner answers 409: never a command decided on
    another state than the one the client saw."""
    raw = if_match.strip().removeprefix("W/").strip('"')
    site, _, number = raw.rpartition(".")
    if site == aggregate.site and number.isdigit():
        return f'"{number}"'  # the ETag of a forwarded answer: the owner's own numbering
    if not raw.isdigit() or len(raw) > 18:
        return if_match  # the owner answers 422 itself
    try:
        msg = await nc.jetstream(timeout=2).get_msg(aggregate.stream, int(raw), direct=True)
    except Exception:
        return if_match
    prefix = aggregate.subject_filter.removesuffix("*")
    source = (msg.headers or {}).get("Nats-Stream-Source", "")
    parts = source.split()
    if not (msg.subject or "").startswith(prefix) or len(parts) < 2 or not parts[1].isdigit():
        return if_match
    return f'"{parts[1]}"'


def _route(request: Request) -> str:
    route = request.scope.get("route")
    # The template, never the path: no ids in logs.
    return f"{request.method} {getattr(route, 'path', '?')}"


def _refusal(request: Request, owner: str) -> JSONResponse:
    return JSONResponse(
        error_body(
            request,
            OWNED_ELSEWHERE,
            owned_elsewhere_message(owner),
            owner_site=owner,
        ),
        status_code=503,
        headers={OWNER_HEADER: owner, "Retry-After": "30"},
    )


def install_forwarding(app: FastAPI, forwarder: Forwarder) -> None:
    """Commands on another site's aggregates go to their owner (call before adding the
    request guard, so the body kept is the one the guard let through)."""
    app.state.forwarder = forwarder
    app.add_middleware(KeepBody)

    @app.exception_handler(OwnedElsewhere)
    async def owned_elsewhere(request: Request, exc: OwnedElsewhere) -> Response:
        return await forwarder.forward(request, exc.aggregate)


async def serve_forwarded(nc: NATS, app: ASGIApp, *, site: str, service: str) -> Subscription:
    """The owner's side: run each request forwarded to this service through ``app``."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    client = httpx.AsyncClient(transport=transport, base_url="http://forwarded")

    async def answer(msg: Msg) -> None:
        sender = (msg.headers or {}).get(FORWARDED_FROM, "?")
        try:
            envelope: dict[str, Any] = json.loads(msg.data)
            headers = [(k, v) for k, v in envelope["headers"] if k.lower() not in _DROPPED]
            headers.append((FORWARDED_FROM, sender))
            response = await client.request(
                envelope["method"],
                envelope["path"] + (f"?{envelope['query']}" if envelope.get("query") else ""),
                headers=headers,
                content=base64.b64decode(envelope.get("body", "")),
            )
            reply = {
                "status": response.status_code,
                "headers": [[k, v] for k, v in response.headers.items()],
                "body": base64.b64encode(response.content).decode(),
            }
        except Exception as exc:  # never leave the sender waiting for nothing
            log.warning("forwarded request from %s failed: %s", sender, type(exc).__name__)
            reply = {
                "status": 502,
                "headers": [["content-type", "application/json"]],
                "body": base64.b64encode(
                    json.dumps({"error": {"code": "forwarding_failed"}}).encode()
                ).decode(),
            }
        if msg.reply:
            await nc.publish(msg.reply, json.dumps(reply).encode())

    running: set[asyncio.Task[None]] = set()

    async def received(msg: Msg) -> None:
        # One task each: a slow command does not hold up the next one.
        task = asyncio.create_task(answer(msg))
        running.add(task)
        task.add_done_callback(running.discard)

    return await nc.subscribe(forward_subject(site, service), queue=QUEUE, cb=received)


async def say_owner(
    request: Request, response: Response, context: str, type_: str, aggregate_id: str
) -> None:
    """A read of one aggregate names the site that owns it (``Relais-Owner-Site``): at an
    office, a case the hub owns says ``hq``. Left out while the log does not answer (the read
    model did)."""
    runtime = getattr(request.app.state, "runtime", None)
    nc = getattr(runtime, "nc", None)
    if nc is None or not nc.is_connected:
        return
    here = getattr(getattr(runtime, "settings", None), "site", "")
    aggregate = Aggregate(context, here, type_, aggregate_id)
    try:
        site = await owning_site(nc.jetstream(timeout=2), aggregate)
    except Exception as exc:
        log.debug("owner of a %s not known: %s", aggregate.type, type(exc).__name__)
        return
    if site:
        response.headers[OWNER_HEADER] = site
