"""What every request body must be before any route reads it: not larger than its limit
(1 MB unless the route says more), counted as it arrives rather than after reading it all;
no NUL character anywhere (PostgreSQL cannot store one); JSON without a byte-order mark and
without a key given twice (which value a parser keeps is a guess; the sender meant one).

A pure ASGI middleware: the body is read once, checked, and handed on to the route."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.types import Message as AsgiMessage

from shared.i18n import Message

DEFAULT_MAX_BODY_BYTES = 1_000_000
NUL_IN_BODY = (b"\x00", b"\\u0000")
BOM = b"\xef\xbb\xbf"

NUL_REFUSED = Message(
    en="The request holds a NUL character (\\u0000), which no field accepts.",
    fr="La requête contient un caractère NUL (\\u0000), qu'aucun champ n'accepte.",
)
BOM_REFUSED = Message(
    en="The request body starts with a byte-order mark (BOM); send plain UTF-8 JSON.",
    fr="Le corps de la requête commence par une marque d'ordre d'octets (BOM) ; envoyez du "
    "JSON en UTF-8 sans BOM.",
)
TOO_LARGE = Message(
    en="The request body is too large (at most {limit} bytes here).",
    fr="Le corps de la requête est trop volumineux (au plus {limit} octets ici).",
)


def _duplicate(key: str) -> Message:
    return Message(
        en=f"The JSON body gives the key '{key}' twice; give each key once.",
        fr=f"Le corps JSON donne deux fois la clé « {key} » ; donnez chaque clé une seule fois.",
    )


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise _DuplicateKey(key)
        seen[key] = value
    return seen


def duplicate_key(body: bytes) -> str | None:
    """The first key given twice in one JSON object of ``body``, if any (None also when the
    body is not JSON at all: the route's own validation says so)."""
    try:
        json.loads(body, object_pairs_hook=_no_duplicates)
    except _DuplicateKey as exc:
        return exc.key[:100]
    except ValueError:
        return None
    return None


class _TooLarge(Exception):
    pass


class RequestGuard:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        route_limits: Mapping[str, int] | None = None,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        # Path prefix -> limit, for the routes that need more (longest prefix wins).
        self.route_limits = dict(route_limits or {})

    def limit_for(self, path: str) -> int:
        best = ""
        for prefix in self.route_limits:
            if path.startswith(prefix) and len(prefix) > len(best):
                best = prefix
        return self.route_limits[best] if best else self.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        if "\x00" in request.url.path or any(
            "\x00" in k or "\x00" in v for k, v in request.query_params.multi_items()
        ):
            await self._refuse(scope, receive, send, 400, "nul_character", NUL_REFUSED)
            return
        if scope["method"] not in ("POST", "PUT", "PATCH", "DELETE"):
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._refuse(scope, receive, send, 413, "body_too_large", TOO_LARGE, limit)
            return
        try:
            body = await self._read(receive, limit)
        except _TooLarge:
            await self._refuse(scope, receive, send, 413, "body_too_large", TOO_LARGE, limit)
            return
        if any(nul in body for nul in NUL_IN_BODY):
            await self._refuse(scope, receive, send, 400, "nul_character", NUL_REFUSED)
            return
        if body.startswith(BOM):
            await self._refuse(scope, receive, send, 400, "byte_order_mark", BOM_REFUSED)
            return
        key = duplicate_key(body) if body.lstrip()[:1] in (b"{", b"[") else None
        if key is not None:
            await self._refuse(scope, receive, send, 400, "duplicate_key", _duplicate(key))
            return

        sent = False

        async def replay() -> AsgiMessage:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # the disconnect, when it comes

        await self.app(scope, replay, send)

    @staticmethod
    async def _read(receive: Receive, limit: int) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise _TooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    @staticmethod
    async def _refuse(
        scope: Scope,
        receive: Receive,
        send: Send,
        status: int,
        code: str,
        message: Message,
        limit: int | None = None,
    ) -> None:
        from shared.http import error_body

        request = Request(scope)
        if limit is not None:
            message = Message(en=message.en.format(limit=limit), fr=message.fr.format(limit=limit))
        extra: dict[str, Any] = {"limit_bytes": limit} if limit is not None else {}
        response = JSONResponse(error_body(request, code, message, **extra), status_code=status)
        await response(scope, receive, send)
