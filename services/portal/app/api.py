"""Calls to the services' HTTP APIs, always with the signed-in user's own token, and their
answers read the way the screens need them: stored, stored but not yet visible (202), refused
with reasons per field, a conflict, not found, or not stored at all (503, unreachable)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import httpx

from shared.config import SERVICES

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    unreachable: bool = False
    content: bytes = b""  # the raw answer (a download: CSV, XLSX)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def later(self) -> bool:
        """Stored, but the service's read model has not caught up yet."""
        return self.status == 202

    @property
    def data(self) -> dict[str, Any]:
        return self.body if isinstance(self.body, dict) else {}

    @property
    def error(self) -> dict[str, Any]:
        error = self.data.get("error")
        return error if isinstance(error, dict) else {}

    @property
    def message(self) -> str:
        return str(self.error.get("message") or "")

    @property
    def code(self) -> str:
        return str(self.error.get("code") or "")

    def field_errors(self) -> dict[str, str]:
        """The reasons the service gave, per field (its path in the request body)."""
        found: dict[str, str] = {}
        for item in self.error.get("fields") or []:
            if isinstance(item, dict) and item.get("field"):
                found.setdefault(str(item["field"]), str(item.get("reason") or ""))
        if self.error.get("field"):
            found.setdefault(str(self.error["field"]), self.message)
        return found

    @property
    def retry_after(self) -> int | None:
        value = self.headers.get("retry-after", "")
        return int(value) if value.isdigit() else None

    @property
    def version(self) -> int | None:
        """The record's version: the ``ETag`` header, else the ``version`` field."""
        etag = self.headers.get("etag", "").removeprefix("W/").strip('"')
        if etag.isdigit():
            return int(etag)
        value = self.data.get("version")
        return value if isinstance(value, int) else None


class Services:
    """One HTTP client per service. ``transports`` lets tests run the services in-process."""

    def __init__(
        self,
        urls: dict[str, str],
        *,
        timeout_s: float,
        transports: dict[str, httpx.AsyncBaseTransport] | None = None,
    ) -> None:
        self._clients = {
            name: httpx.AsyncClient(
                base_url=urls[name],
                timeout=timeout_s,
                transport=(transports or {}).get(name),
            )
            for name in SERVICES
        }

    async def close(self) -> None:
        for client in self._clients.values():
            await client.aclose()

    async def call(
        self,
        service: str,
        method: str,
        path: str,
        *,
        token: str,
        language: str,
        json: Any = None,
        params: Any = None,
        if_match: int | None = None,
        idempotency_key: str | None = None,
        accept: str | None = None,
    ) -> Answer:
        headers = {"Authorization": f"Bearer {token}", "Accept-Language": language}
        if accept:
            headers["Accept"] = accept
        if if_match is not None:
            headers["If-Match"] = f'"{if_match}"'
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        try:
            response = await self._clients[service].request(
                method, path, headers=headers, json=json, params=params
            )
        except httpx.HTTPError as exc:
            # Never the URL or the body: they may name a child.
            log.warning("%s unreachable: %s", service, type(exc).__name__)
            return Answer(503, unreachable=True)
        kind = response.headers.get("content-type", "")
        is_json = "json" in kind or not kind
        try:
            body = response.json() if response.content and is_json else None
        except ValueError:
            body = None
        return Answer(
            response.status_code,
            body,
            {k.lower(): v for k, v in response.headers.items()},
            content=b"" if is_json else response.content,
        )
