"""Production sign-in against an OpenID Connect provider started on loopback: authorization
code with PKCE; the provider's access token opens the services (they trust the same
provider); a callback is used once, only by the browser that started it; an access token about
to expire is refreshed."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import uvicorn

from relais.embedded import free_port
from tests.portal.oidc_provider import CLIENT_ID, CLIENT_SECRET, Provider
from tests.portal.system import System

pytestmark = [pytest.mark.system, pytest.mark.xdist_group("portal")]


@pytest.fixture(scope="module")
async def provider() -> AsyncIterator[Provider]:
    port = free_port()
    found = Provider(
        f"http://127.0.0.1:{port}",
        {"sub": "kc-7f3a", "agency": "ocpm", "roles": ["case_worker"], "name": "Afiavi Kpade"},
        expires_in=10,  # under the portal's refresh margin: every page refreshes it
    )
    server = uvicorn.Server(
        uvicorn.Config(found.app(), host="127.0.0.1", port=port, log_level="warning")
    )
    # A thread of its own, as a real provider is elsewhere: the services fetch its keys with
    # a blocking client, which would stall a provider sharing their event loop.
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        await asyncio.sleep(0.02)
    yield found
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
async def system(
    provider: Provider, pg_server_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[System]:
    started = System(
        tmp_path_factory.mktemp("portal-oidc"),
        pg_server_url,
        portal_settings={
            "oidc_issuer": provider.issuer,
            "oidc_client_id": CLIENT_ID,
            "oidc_client_secret": CLIENT_SECRET,
            # The services trust the same provider.
            "jwks_url": f"{provider.issuer}/jwks",
            "jwt_issuer": provider.issuer,
        },
    )
    try:
        yield await started.start()
    finally:
        await started.stop()


async def start(client: httpx.AsyncClient) -> httpx.Response:
    await client.get("/signin")  # the page a person starts from (sets the browser's cookie)
    answer = await client.get("/signin/start?next=/cases")
    assert answer.status_code == 303
    return answer


async def test_sign_in_with_the_provider_opens_the_services(
    system: System, provider: Provider, tmp_path: Path
) -> None:
    async with httpx.AsyncClient(base_url=system.base_url) as browser:
        page = await browser.get("/signin")
        assert "/signin/start" in page.text and 'name="password"' not in page.text
        sent = await start(browser)
        authorize = sent.headers["location"]
        query = parse_qs(urlsplit(authorize).query)
        assert authorize.startswith(f"{provider.issuer}/authorize")
        assert query["code_challenge_method"] == ["S256"] and query["code_challenge"]
        assert query["client_id"] == [CLIENT_ID] and query["nonce"]
        back = await browser.get(authorize)  # the provider signs the person in at once
        assert back.status_code == 302
        callback = back.headers["location"]
        answer = await browser.get(callback)
        assert answer.status_code == 303 and answer.headers["location"] == "/cases"
        assert provider.exchanges == 1
        cases = await browser.get("/cases")
        assert cases.status_code == 200, cases.text[:500]
        assert "Mes dossiers" in cases.text and "Afiavi Kpade" in cases.text
        # The access token lives 10 s, under the refresh margin: the page refreshed it.
        assert provider.refreshes >= 1
        # A callback works once.
        again = await browser.get(callback)
        assert again.status_code == 400


async def test_a_callback_from_another_browser_is_refused(
    system: System, provider: Provider
) -> None:
    async with (
        httpx.AsyncClient(base_url=system.base_url) as victim,
        httpx.AsyncClient(base_url=system.base_url) as attacker,
    ):
        sent = await start(attacker)
        back = await attacker.get(sent.headers["location"])
        # The attacker's own code and state, slipped to another browser (login CSRF).
        await victim.get("/signin")
        answer = await victim.get(back.headers["location"])
        assert answer.status_code == 400
        assert (await victim.get("/cases")).status_code == 303  # not signed in


async def test_a_wrong_state_is_refused(system: System) -> None:
    async with httpx.AsyncClient(base_url=system.base_url) as browser:
        await start(browser)
        answer = await browser.get("/signin/callback?code=x&state=not-the-state")
        assert answer.status_code == 400
