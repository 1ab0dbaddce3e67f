"""The portal over HTTP, route by route (generated from its routes, so a new one is covered):
no state-changing request passes without the session's CSRF token, no odd input gets a 500 or
a traceback, the cookies and headers protect a shared phone, and a redirect never leaves the
portal."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi.routing import APIRoute
from sqlalchemy import func, select

from services.portal.read.tables import sessions
from services.portal.service import ROUTERS, create_portal
from tests.portal.system import PASSWORD, System

pytestmark = [pytest.mark.system, pytest.mark.xdist_group("portal")]

EVERYONE = [
    "hotline_operator",
    "intake_officer",
    "screener",
    "case_worker",
    "supervisor",
    "agency_admin",
]
ODD = ["..", "a.b", "%00", "é" * 300, "x" * 5000, "'; drop table x; --", "0" * 64]
PARAMS = {"kind": "note", "verdict": "confirm", "change": "roles"}
JUNK_FORMS = [
    {},
    {"decision": "x" * 10_000, "urgency": "\u202e", "version": "-1", "idem": "k" * 500},
    {"children.99.name": "a", "children.0.age_years": "abc", "concerns": ["nope"] * 50},
    {"roles": ["auditor", "x"], "email": "not an email", "to": "closure", "text": "a" * 300_000},
]


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None, html[:500]
    return found.group(1)


async def signed_in(system: System, email: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=system.base_url)
    page = await client.get("/signin")
    answer = await client.post(
        "/signin", data={"csrf": csrf_of(page.text), "email": email, "password": PASSWORD}
    )
    assert answer.status_code == 303, answer.text[:300]
    return client


@pytest.fixture(scope="module")
async def everyone(system: System) -> AsyncIterator[httpx.AsyncClient]:
    await system.account("all@ocpm.bj", EVERYONE, "ocpm")
    client = await signed_in(system, "all@ocpm.bj")
    yield client
    await client.aclose()


def routes(method: str) -> list[str]:
    return [
        route.path
        for router in ROUTERS
        for route in router.routes
        if isinstance(route, APIRoute) and method in route.methods
    ]


def concrete(path: str, odd: str) -> str:
    for name, value in PARAMS.items():
        path = path.replace("{" + name + "}", value)
    return re.sub(r"\{[^}]+\}", odd, path)


def no_trace(answer: httpx.Response, what: str) -> None:
    assert answer.status_code < 500, f"{what}: {answer.status_code} {answer.text[:300]}"
    assert "Traceback" not in answer.text, what


async def test_every_post_needs_the_sessions_csrf_token(
    system: System, everyone: httpx.AsyncClient
) -> None:
    posts = routes("POST")
    assert len(posts) >= 10, posts
    for path in posts:
        url = concrete(path, "00000000-0000-7000-8000-000000000000")
        answer = await everyone.post(url, data={"text": "x"})
        assert answer.status_code == 403, f"POST {url}: {answer.status_code}"
        forged = await everyone.post(url, data={"csrf": "forged", "text": "x"})
        assert forged.status_code == 403, f"POST {url} forged: {forged.status_code}"


async def test_no_odd_input_gets_a_500(system: System, everyone: httpx.AsyncClient) -> None:
    home = await everyone.get("/reports/new")
    csrf = csrf_of(home.text)
    for path in routes("GET"):
        for odd in ODD:
            url = concrete(path, odd)
            no_trace(await everyone.get(url, params={"index": odd, "q": odd}), f"GET {url}")
    for path in routes("POST"):
        if path in ("/signout", "/signout/everywhere"):
            continue
        for odd in ODD[:3]:
            for junk in JUNK_FORMS:
                url = concrete(path, odd)
                no_trace(await everyone.post(url, data={"csrf": csrf, **junk}), f"POST {url}")


async def test_cookies_and_headers_protect_a_shared_phone(system: System) -> None:
    await system.account("phone@ocpm.bj", ["hotline_operator"], "ocpm")
    async with httpx.AsyncClient(base_url=system.base_url) as client:
        page = await client.get("/signin")
        assert page.headers["cache-control"] == "no-store"
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert page.headers["x-content-type-options"] == "nosniff"
        answer = await client.post(
            "/signin",
            data={"csrf": csrf_of(page.text), "email": "phone@ocpm.bj", "password": PASSWORD},
            headers={"X-Forwarded-Proto": "https"},  # behind a TLS proxy on this machine
        )
        cookie = answer.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "secure" in cookie
        static = await client.get(re.search(r'href="(/static/[^"]+)"', page.text).group(1))  # type: ignore[union-attr]
        assert "immutable" in static.headers["cache-control"]


async def test_redirects_stay_on_the_portal(system: System) -> None:
    await system.account("redirect@ocpm.bj", ["screener"], "ocpm")
    async with httpx.AsyncClient(base_url=system.base_url) as client:
        page = await client.get("/signin?next=//evil.example/x")
        answer = await client.post(
            "/signin",
            data={
                "csrf": csrf_of(page.text),
                "email": "redirect@ocpm.bj",
                "password": PASSWORD,
                "next": "//evil.example/x",
            },
        )
        assert answer.headers["location"] == "/"


async def test_signing_out_everywhere_ends_every_session(system: System) -> None:
    account = await system.account("twice@ocpm.bj", ["screener"], "ocpm")
    phone, desk = await signed_in(system, "twice@ocpm.bj"), await signed_in(system, "twice@ocpm.bj")
    try:
        assert (await desk.get("/screening")).status_code == 200
        page = await phone.get("/screening")
        answer = await phone.post("/signout/everywhere", data={"csrf": csrf_of(page.text)})
        assert answer.headers["location"] == "/signin?why=all"
        assert (await desk.get("/screening")).status_code == 303
        assert (await phone.get("/screening")).status_code == 303
    finally:
        await phone.aclose()
        await desk.aclose()
    async with system.portal.engine.connect() as conn:
        left = (
            await conn.execute(
                select(func.count()).select_from(sessions).where(sessions.c.account_id == account)
            )
        ).scalar()
    assert left == 0


async def test_health_answers(system: System) -> None:
    async with httpx.AsyncClient(base_url=system.base_url) as client:
        answer = await client.get("/health")
    assert answer.status_code == 200
    assert answer.json()["service"] == "portal"


async def test_french_by_default_and_english_on_request(system: System) -> None:
    async with httpx.AsyncClient(base_url=system.base_url) as client:
        page = await client.get("/signin", headers={"Accept-Language": "en-US,en"})
        assert '<html lang="fr" dir="ltr">' in page.text and "Se connecter à Relais" in page.text
        answer = await client.post(
            "/language", data={"csrf": csrf_of(page.text), "language": "en", "next": "/signin"}
        )
        assert answer.status_code == 303 and answer.headers["location"] == "/signin"
        english = await client.get("/signin")
        assert '<html lang="en" dir="ltr">' in english.text and "Sign in to Relais" in english.text
        refused = await client.post("/language", data={"language": "en"})
        assert refused.status_code == 403  # a state change like any other: the token is needed


async def test_answers_are_honest_when_intake_stores_late_or_not_at_all(system: System) -> None:
    """202 (stored, not yet visible) says so and moves on; 503 (not stored) keeps the form
    filled and says when to try again. A second portal instance on the same database, its
    intake answering as a loaded or cut-off service would."""
    replies: list[httpx.Response] = []

    def intake(request: httpx.Request) -> httpx.Response:
        return replies.pop(0)

    assert system.settings is not None
    app = create_portal(system.settings, transports={"intake": httpx.MockTransport(intake)})
    await system.account("late@ocpm.bj", ["hotline_operator"], "ocpm")
    form = {
        "channel": "hotline_116",
        "received_at": "2026-01-05T09:30",
        "commune": "Cotonou — Littoral",
        "concerns": "neglect",
        "children.0.name": "Sena Dossou",
        "children.0.sex": "female",
    }
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://p") as client,
    ):
        page = await client.get("/signin")
        await client.post(
            "/signin",
            data={"csrf": csrf_of(page.text), "email": "late@ocpm.bj", "password": PASSWORD},
        )
        csrf = csrf_of((await client.get("/reports/new")).text)
        replies.append(httpx.Response(503, headers={"Retry-After": "7"}, json={"error": {}}))
        refused = await client.post(
            "/reports/new", data={**form, "csrf": csrf, "idem": "key-00001"}
        )
        assert refused.status_code == 503
        assert "Non enregistré" in refused.text and "7 secondes" in refused.text
        assert (
            'value="Sena Dossou"' in refused.text
            and 'name="idem" value="key-00001"' in refused.text
        )
        replies.append(httpx.Response(202, json={"report_id": "r-late"}))
        later = await client.post("/reports/new", data={**form, "csrf": csrf, "idem": "key-00001"})
        assert later.status_code == 303
        assert later.headers["location"] == "/reports/r-late?done=later"
