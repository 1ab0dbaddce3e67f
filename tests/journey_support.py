"""The harness of the journey privacy test: the child's data to look for, the services run
in-process, and where to look."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import httpx
from fastapi import FastAPI

from shared.auth import LocalIssuer
from shared.service import Runtime

GIVEN, FAMILY = "Mariamou", "Zinsou-Agbodjan"
NAME = f"{GIVEN} {FAMILY}"
DOB = "2013-04-17"
PHRASE = "sleeps behind the indigo dye vats"
NARRATIVE = (
    f"The neighbour says {GIVEN} {PHRASE} of the Dantokpa market since the rainy season "
    "and is sent out at night by the woman who employs her."
)
# Every spelling that would give the child away: the name whole and in parts, the date of
# birth as ISO, French and compact dates, and the narrative's phrase.
SECRETS = (NAME, GIVEN, FAMILY, "Zinsou", DOB, "17/04/2013", "20130417", PHRASE, "indigo dye")

AGENCY = "ocpm"
UNIT = "ocpm-transit"
WORKER = "worker-1"
SUPERVISOR = "sup-1"
IC = "social_services.interaction_communication"  # needed for a case of sexual abuse
HOURS = {d: ["08:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")}
TEST_HOSTS = ("intake", "referral", "casework")  # base URLs of this test's own clients


def leaks(text: str) -> list[str]:
    low = text.lower()
    return [s for s in SECRETS if s.lower() in low]


class Service:
    """One service started for real, with an HTTP client and tokens for anyone."""

    def __init__(self, app: FastAPI, host: str, issuer: LocalIssuer) -> None:
        self.app = app
        self.issuer = issuer
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        self.http = httpx.AsyncClient(transport=transport, base_url=f"http://{host}")

    @property
    def runtime(self) -> Runtime:
        runtime: Runtime = self.app.state.runtime
        return runtime

    def as_(
        self, role: str, user: str, *, unit: str | None = None, **headers: str
    ) -> dict[str, str]:
        token = self.issuer.mint(user=user, agency=AGENCY, roles=[role], unit=unit)
        return {"Authorization": f"Bearer {token}", **headers}

    async def ok(
        self, method: str, url: str, headers: dict[str, str], body: Any = None, status: int = 200
    ) -> dict[str, Any]:
        answer = await self.http.request(method, url, headers=headers, json=body)
        assert answer.status_code == status, f"{method} {url}: {answer.text}"
        result: dict[str, Any] = answer.json()
        return result


async def eventually(probe: Callable[[], Awaitable[Any]], what: str, timeout: float = 15) -> Any:
    """Poll ``probe`` until it returns something truthy."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        found = await probe()
        if found:
            return found
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def caught_up(reader: Service, writer: Service, stream: str) -> None:
    """Wait until every projector of ``reader`` on ``stream`` has what ``writer`` wrote."""
    assert writer.runtime.nc is not None
    last = (await writer.runtime.nc.jetstream().stream_info(stream)).state.last_seq
    for projector in reader.runtime.projectors:
        if projector.stream == stream:
            assert await projector.wait_for(last, 15), projector.label


def log_texts(records: Iterable[logging.LogRecord]) -> list[str]:
    formatter = logging.Formatter()
    texts = []
    for record in records:
        message = record.getMessage()
        # The test's own HTTP clients log their requests (httpx, INFO) with the query string;
        # those lines are written by the test harness, not by a service.
        if record.name == "httpx" and any(f"http://{h}/" in message for h in TEST_HOSTS):
            continue
        parts = [record.name, message, record.exc_text or "", record.stack_info or ""]
        if record.exc_info:
            parts.append(formatter.formatException(record.exc_info))
        texts.append(" ".join(parts))
    return texts
