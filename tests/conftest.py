"""Real servers for every test: a nats-server 2.14 from the wheel and PostgreSQL from the
embedded wheel, unless NATS_URL / DATABASE_URL name external ones."""

from __future__ import annotations

import os
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.aio.client import Client as NATS
from nats.js.errors import NotFoundError
from sqlalchemy.ext.asyncio import AsyncEngine

from relais.embedded import EmbeddedPostgres, NatsServer, free_port
from shared.config import with_database
from shared.db import ensure_database, make_engine
from shared.streams import OPERATED, ensure_streams

TEST_CONTEXTS = (*OPERATED, "lab")

# The tiers every test belongs to, exactly one each (docs/architecture.md, Tests): ``domain``
# (pure), ``app`` (the in-memory event store), ``connected`` (real NATS and PostgreSQL),
# ``system`` (several services, processes, sites).
TIERS = ("domain", "app", "connected", "system")


@pytest.hookimpl(tryfirst=True)  # before xdist adds its group to the node ids
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # schemathesis names every operation's item after the test alone; xdist keys its schedule
    # by node id and would run one operation per service. The item's name holds the operation.
    # (``_nodeid`` is what xdist itself rewrites; pytest is kept below 9.1, which ignores it.)
    ids = Counter(item.nodeid for item in items)
    for item in items:
        if ids[item.nodeid] > 1 and not item.nodeid.endswith("]"):
            item._nodeid = f"{item.nodeid.rpartition('::')[0]}::{item.name}"
    wrong = []
    for item in items:
        tiers = {m.name for m in item.iter_markers() if m.name in TIERS}
        if len(tiers) != 1:
            wrong.append(f"{item.nodeid}: {sorted(tiers) or 'no tier'}")
    if wrong:
        raise pytest.UsageError(
            "every test carries exactly one of the markers "
            + ", ".join(TIERS)
            + ":\n  "
            + "\n  ".join(wrong)
        )


_TIER_SECONDS: dict[str, float] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    tier = next((k for k in report.keywords if k in TIERS), None)
    if tier is not None:
        _TIER_SECONDS[tier] = _TIER_SECONDS.get(tier, 0.0) + report.duration


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Seconds spent in each tier (setup, call and teardown; summed over xdist workers)."""
    if _TIER_SECONDS:
        terminalreporter.section("time per tier")
        for tier in TIERS:
            if tier in _TIER_SECONDS:
                terminalreporter.write_line(f"{tier:<10} {_TIER_SECONDS[tier]:8.1f} s")


@pytest.fixture(scope="session")
def servers_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("servers")


@pytest.fixture(scope="session")
def pg_server_url(servers_dir: Path) -> Iterator[str]:
    external = os.environ.get("DATABASE_URL")
    if external:
        yield external
        return
    pg = EmbeddedPostgres(servers_dir / "postgres").start()
    try:
        yield pg.url
    finally:
        pg.stop()


@pytest.fixture
async def database_url(pg_server_url: str) -> str:
    """A fresh, empty database for one test."""
    url = with_database(pg_server_url, f"t_{uuid.uuid4().hex[:16]}")
    await ensure_database(url)
    return url


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    eng = make_engine(database_url, pool_size=5)
    yield eng
    await eng.dispose()


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer | None]:
    """A fresh nats-server per test (it starts in milliseconds), or None with NATS_URL."""
    if os.environ.get("NATS_URL"):
        yield None
        return
    server = NatsServer(tmp_path / "nats", port=free_port()).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def bare_nats_url(nats_server: NatsServer | None) -> str:
    """A server without any stream."""
    return await fresh_nats_url(nats_server)


async def fresh_nats_url(nats_server: NatsServer | None) -> str:
    """The URL of the test's own server, or of the external one emptied for the test."""
    if nats_server is not None:
        return nats_server.url
    url = os.environ["NATS_URL"]
    # A shared external server: start each test from empty streams (the streams themselves
    # may be removed by an administrator; their messages can never be deleted or purged).
    nc = await nats.connect(url)
    js = nc.jetstream()
    for context in TEST_CONTEXTS:
        try:
            await js.delete_stream(context.upper())
        except NotFoundError:
            pass
    await nc.close()
    return url


@pytest.fixture
async def nats_url(bare_nats_url: str) -> str:
    """A server whose streams the operator created (as ``relais up`` does; and the tests'
    LAB): services only check them."""
    return await with_streams(bare_nats_url)


async def with_streams(url: str) -> str:
    nc = await nats.connect(url)
    await ensure_streams(nc.jetstream(), "hq", contexts=TEST_CONTEXTS)
    await nc.close()
    return url


@pytest.fixture
async def nc(nats_url: str) -> AsyncIterator[NATS]:
    client = await nats.connect(nats_url)
    yield client
    await client.close()


@pytest.fixture
async def bare_nc(bare_nats_url: str) -> AsyncIterator[NATS]:
    client = await nats.connect(bare_nats_url)
    yield client
    await client.close()
