"""The harness of the journey privacy test: the child's data to look for, the services run
in-process, and where to look."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import httpx
from fastapi import FastAPI

from shared.auth import LocalIssuer
from shared.config import Settings
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


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None, html[:300]
    return found.group(1)


async def through_the_portal(settings: Settings, services: dict[str, Service]) -> None:
    """The same child through the portal's screens: a hotline operator types the report (and
    once a date the service refuses), a screener screens it with a rationale naming the
    child, the case worker opens the case. The portal's logs and spans join the others."""
    from services.portal.app import credentials
    from services.portal.service import create_portal
    from shared.envelope import Actor

    transports: dict[str, httpx.AsyncBaseTransport] = {
        name: httpx.ASGITransport(app=service.app) for name, service in services.items()
    }
    app = create_portal(settings, transports=transports)
    async with app.router.lifespan_context(app):
        portal = app.state.portal
        operator = "privacy-test"  # the operator who creates the accounts
        for email, role, unit in (
            ("op@ocpm.bj", "hotline_operator", None),
            ("scr@ocpm.bj", "screener", None),
            ("cw@ocpm.bj", "case_worker", UNIT),
        ):
            issued = await portal.accounts.create(
                email=email,
                display_name=None,
                agency=AGENCY,
                unit=unit,
                roles=[role],
                actor=Actor(user=operator, agency=AGENCY, role="operator"),
                by_operator=True,
            )
            link = portal.accounts.links.read(issued.link.rsplit("/", 1)[1])
            await portal.accounts.password_chosen(link)
            hashed = await credentials.hash_password("a long enough password")
            await credentials.store_password(
                portal.engine, issued.account_id, hashed, link.issued_at
            )

        async def person(email: str) -> httpx.AsyncClient:
            client = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://portal"
            )
            page = await client.get("/signin")
            answer = await client.post(
                "/signin",
                data={
                    "csrf": csrf_of(page.text),
                    "email": email,
                    "password": "a long enough password",
                },
            )
            assert answer.status_code == 303, answer.text[:300]
            return client

        hotline = await person("op@ocpm.bj")
        form = {
            "channel": "hotline_116",
            "received_at": "2026-01-05T09:30",
            "commune": "Cotonou — Littoral",
            "concerns": ["sexual_abuse"],
            "children.0.name": NAME,
            "children.0.sex": "female",
            "children.0.date_of_birth": DOB,
            "narrative": NARRATIVE,
            "reporter.name": "Voisine",
        }
        page = await hotline.get("/reports/new")
        refused = await hotline.post(
            "/reports/new",
            data={
                **form,
                "children.0.date_of_birth": "17/04/2013",
                "csrf": csrf_of(page.text),
                "idem": "privacy-refused",
            },
        )
        assert refused.status_code == 422 and NAME in refused.text  # back to the person only
        saved = await hotline.post(
            "/reports/new", data={**form, "csrf": csrf_of(page.text), "idem": "privacy-saved"}
        )
        assert saved.status_code == 303, saved.text[:500]
        report_path = saved.headers["location"].split("?")[0]
        assert NAME in (await hotline.get(report_path)).text

        screener = await person("scr@ocpm.bj")
        page = await screener.get(report_path)
        version = re.search(r'name="version" value="(\d+)"', page.text)
        assert version is not None
        screened = await screener.post(
            f"{report_path}/screening",
            data={
                "csrf": csrf_of(page.text),
                "idem": "privacy-screening",
                "version": version.group(1),
                "decision": "protection_concern",
                "urgency": "high",
                "rationale": f"{GIVEN}: {PHRASE}.",
            },
        )
        assert screened.status_code == 303, screened.text[:500]

        worker = await person("cw@ocpm.bj")

        async def case_link() -> str | None:
            found = re.findall(r'href="(/cases/[0-9a-f-]{36})"', (await worker.get("/cases")).text)
            return found[0] if found else None

        case_path = await eventually(case_link, "the portal to list the case")
        assert (await worker.get(case_path)).status_code == 200
        for client in (hotline, screener, worker):
            await client.aclose()
