"""Starting the deploy/nats topology on loopback for the site tests: the configuration files
themselves, with only addresses, ports and store directories replaced."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import nats
from nats.aio.client import Client as NATS

from relais.embedded import NatsServer, free_port
from shared.envelope import Actor
from shared.eventstore import EventStore
from shared.nats_store import NatsEventStore
from shared.reading import iter_stored
from shared.signing import SigningKey

DEPLOY = Path(__file__).resolve().parents[1] / "deploy" / "nats"
ACTOR = Actor(user="u-1", agency="ocpm", role="case_worker")
CATCH_UP_S = 10.0
# A stream whose source broke notices it at the server's 10 s source health check; after a
# short outage that can take two checks (seen: 17.6 s after the hub's restart, every time).
SOURCE_RETRY_S = 45.0


# -- the deploy files, on loopback -----------------------------------------------------------


def drop_block(text: str, name: str) -> str:
    """``text`` without its top-level block ``name { ... }``."""
    start = text.index(f"\n{name} {{") + 1
    depth = 0
    for end in range(start, len(text)):
        if text[end] == "{":
            depth += 1
        elif text[end] == "}":
            depth -= 1
            if depth == 0:
                return text[:start] + text[end + 1 :]
    raise ValueError(f"unbalanced block {name}")


def deploy_config(
    relative: str, replacements: dict[str, str], *, without: tuple[str, ...] = ()
) -> str:
    text = (DEPLOY / relative).read_text()
    for block in without:
        text = drop_block(text, block)
    for old, new in replacements.items():
        count = text.count(old)
        assert count == 1, f"{relative}: {old!r} appears {count} times, expected once"
        text = text.replace(old, new)
    return text


class Ports:
    def __init__(self) -> None:
        self.taken: set[int] = set()

    def __call__(self) -> int:
        while True:
            port = free_port()
            if port not in self.taken and port != 4222:
                self.taken.add(port)
                return port


def hub_server(base: Path, ports: Ports, leaf_port: int) -> tuple[NatsServer, int]:
    """hub-1.conf as a single node (its cluster block dropped): domain hub, leaf listener."""
    port, http_port = ports(), ports()
    store = base / "hub" / "jetstream"
    config = deploy_config(
        "cluster/hub-1.conf",
        {
            "0.0.0.0:4222": f"127.0.0.1:{port}",
            "127.0.0.1:8222": f"127.0.0.1:{http_port}",
            "0.0.0.0:7422": f"127.0.0.1:{leaf_port}",
            '"/var/lib/nats"': json.dumps(str(store)),
        },
        without=("cluster",),
    )
    return NatsServer(base / "hub", port=port, extra_config=config, server_name="hub-1"), http_port


def leaf_server(base: Path, ports: Ports) -> tuple[NatsServer, int]:
    port, http_port = ports(), ports()
    store = base / "parakou" / "jetstream"
    config = deploy_config(
        "leaf/parakou.conf",
        {
            "0.0.0.0:4222": f"127.0.0.1:{port}",
            "127.0.0.1:8222": f"127.0.0.1:{http_port}",
            '"/var/lib/nats"': json.dumps(str(store)),
        },
    )
    return NatsServer(
        base / "parakou", port=port, extra_config=config, server_name="parakou"
    ), http_port


async def monitor(http_port: int, endpoint: str) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=2) as client:
        response = await client.get(f"http://127.0.0.1:{http_port}/{endpoint}")
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result


async def eventually(
    check: Callable[[], Awaitable[bool]], what: str, timeout: float = CATCH_UP_S
) -> float:
    """Poll ``check`` until it holds; returns the seconds it took."""
    started = time.monotonic()
    while True:
        if await check():
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{what}: not within {timeout} s")
        await asyncio.sleep(0.1)


@asynccontextmanager
async def connected(server: NatsServer) -> AsyncIterator[NATS]:
    nc = await nats.connect(server.url, max_reconnect_attempts=0)
    try:
        yield nc
    finally:
        await nc.close()


async def stored(nc: NATS, subjects: str) -> list[tuple[str, bytes, dict[str, str]]]:
    """(subject, payload, headers) of the LAB stream's messages on ``subjects``, in order."""
    return [
        (subject, msg.data or b"", dict(msg.headers or {}))
        async for _, subject, msg in iter_stored(nc, "LAB", subjects)
    ]


def store_for(nc: NATS, site: str) -> EventStore:
    return NatsEventStore(
        nc,
        key=SigningKey.generate(),
        source=f"/relais/{site}/lab/1",
        site=site,
        writable_contexts=("lab",),
    )


# -- tests -----------------------------------------------------------------------------------


@asynccontextmanager
async def two_sites(
    base: Path, context: str = "lab", *, also: tuple[str, ...] = (), both_ways: bool = False
) -> AsyncIterator[tuple[NATS, NATS]]:
    """A hub (``hq``) and an office (``parakou``) as ``relais up`` runs them, the office's
    ``context`` stream (and those of ``also``) sourcing the hub's, and with ``both_ways``
    the hub's sourcing the office's: the operator's connections (hub, office)."""
    from relais.site_setup import add_site, hub_leaf_config, office_leaf_config, write_leaf_include
    from shared.nats_accounts import ADMIN, accounts_config, load_or_create_passwords
    from shared.sites import link_sites
    from shared.streams import ensure_streams

    users = base / "users.json"
    credentials = add_site(users, "parakou", "hq")
    passwords = load_or_create_passwords(users)
    ports = Ports()
    leaf_port = ports()
    servers = []
    for site, leaf in (
        ("hq", hub_leaf_config("127.0.0.1", leaf_port)),
        ("parakou", office_leaf_config(f"nats-leaf://127.0.0.1:{leaf_port}", credentials)),
    ):
        server = NatsServer(
            base / site,
            port=ports(),
            accounts=accounts_config(site, passwords),
            jetstream_domain=site,
            extra_config=write_leaf_include(base / site, leaf),
            server_name=site,
        )
        server.start()
        servers.append(server)
    login = {"user": ADMIN, "password": passwords[ADMIN]}
    connections: list[NATS] = []
    try:
        for server in servers:
            connections.append(await nats.connect(server.url, **login))
        hub_nc, office_nc = connections
        contexts = (context, *also)
        await ensure_streams(hub_nc.jetstream(), "hq", contexts=contexts)
        await ensure_streams(office_nc.jetstream(), "parakou", contexts=contexts)
        for linked in contexts:
            await link_sites(
                office_nc.jetstream(), context=linked, site="parakou", remote_site="hq",
                remote_domain="hq",
            )  # fmt: skip
            if both_ways:
                await link_sites(
                    hub_nc.jetstream(), context=linked, site="hq", remote_site="parakou",
                    remote_domain="parakou",
                )  # fmt: skip
        yield hub_nc, office_nc
    finally:
        for nc in connections:
            await nc.close()
        for server in servers:
            server.stop(kill=True)
