"""An intake service on real NATS and PostgreSQL, and callers holding tokens for each role."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
from fastapi import FastAPI

from services.intake.service import spec
from shared.auth import LocalIssuer
from shared.config import Settings
from shared.nats_store import NatsEventStore
from shared.service import ServiceSpec, create_app
from shared.streams import ensure_streams
from tests.clock import MovableClock


def settings_for(
    nats_url: str, pg_url: str, data_dir: Path, prefix: str, instance: str
) -> Settings:
    return Settings(
        nats_url=nats_url,
        database_url=pg_url,
        database_prefix=prefix,
        data_dir=data_dir,
        instance=instance,
    )


class Caller:
    """An HTTP client acting as one person (user, agency, roles)."""

    def __init__(self, client: httpx.AsyncClient, token: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"}

    async def post(
        self, url: str, body: Any = None, *, version: int | None = None, **headers: str
    ) -> httpx.Response:
        """``version``: the version of the aggregate the caller saw, sent as If-Match."""
        kwargs: dict[str, Any] = {} if body is None else {"json": body}
        if version is not None:
            headers = {"If-Match": f'"{version}"', **headers}
        return await self.client.post(url, headers={**self.headers, **headers}, **kwargs)

    async def get(self, url: str, **params: Any) -> httpx.Response:
        return await self.client.get(url, headers=self.headers, params=params)

    async def version(self, url: str) -> int:
        """The version of the aggregate at ``url`` (its ETag), as a command's If-Match."""
        answer = await self.get(url)
        assert answer.status_code == 200, answer.text
        return int(answer.headers["ETag"].strip('"'))


class Intake:
    def __init__(
        self, app: FastAPI, client: httpx.AsyncClient, settings: Settings, clock: MovableClock
    ) -> None:
        self.app = app
        self.client = client
        self.settings = settings
        self.clock = clock
        self.issuer = LocalIssuer.load(settings.keys_dir)

    @property
    def runtime(self) -> Any:
        return self.app.state.runtime

    def as_(
        self, *roles: str, user: str = "u-1", agency: str = "ocpm", unit: str | None = None
    ) -> Caller:
        token = self.issuer.mint(user=user, agency=agency, roles=list(roles), unit=unit)
        return Caller(self.client, token)


async def start(spec_: ServiceSpec, settings: Settings) -> Intake:
    clock = MovableClock()
    app = create_app(spec_, settings, clock=clock)
    await app.state.runtime.start()
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    client = httpx.AsyncClient(transport=transport, base_url="http://intake")
    return Intake(app, client, settings, clock)


async def stop(intake: Intake) -> None:
    await intake.client.aclose()
    await intake.runtime.stop()


@pytest.fixture
def make_intake(nats_url: str, pg_server_url: str, tmp_path: Path) -> Callable[..., Any]:
    prefix = f"t{uuid.uuid4().hex[:10]}_"

    async def make(instance: str = "1", processes: list[Any] | None = None) -> Intake:
        # Casework's stream exists in any deployment (intake reads its ChildIdentified).
        nc = await nats.connect(nats_url)
        await ensure_streams(nc.jetstream(), "hq", contexts=("intake", "casework", "audit"))
        await nc.close()
        s = settings_for(nats_url, pg_server_url, tmp_path, prefix, instance)
        return await start(dataclasses.replace(spec, processes=processes or []), s)

    return make


@pytest.fixture
async def intake(make_intake: Callable[..., Any]) -> AsyncIterator[Intake]:
    service = await make_intake()
    yield service
    await stop(service)


def ago(**delta: float) -> str:
    return (datetime.now(UTC) - timedelta(**delta)).isoformat()


def report_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "channel": "hotline_116",
        "received_at": ago(minutes=10),
        "commune": "bj-littoral-cotonou",
        "concerns": ["child_labour"],
        "children": [{"name": "Fatoumata Diallo", "sex": "female", "age_years": 11}],
    }
    body.update(overrides)
    return body


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The matcher's precision and recall, shown at the end of any run that measured them."""
    from tests.intake.matcher_quality import RESULTS

    if not RESULTS:
        return
    terminalreporter.section("duplicate matcher quality")
    for label, quality in RESULTS.items():
        terminalreporter.write_line(quality.line(label))


async def describe_unit(intake: Intake, unit: str, agency: str) -> None:
    """Referral's directory says ``unit`` belongs to ``agency``; intake's copy has learnt it."""
    from contracts.referral import UnitDescribed
    from shared.envelope import Actor, Aggregate
    from shared.signing import SigningKey
    from tests.directory_support import shelter_unit

    store = NatsEventStore(
        intake.runtime.nc,
        key=SigningKey.generate(),
        source="/relais/hq/referral/test",
        site="hq",
        writable_contexts=("referral",),
    )
    event = shelter_unit(unit, agency)
    result = await store.append(
        Aggregate("referral", "hq", UnitDescribed.aggregate, unit),
        0,
        [event],
        actor=Actor.system("t"),
    )
    for projector in intake.runtime.projectors:
        if projector.stream == "REFERRAL":
            assert await projector.wait_for(result.head.seq, 15)
