"""Ownership across sites on real servers: a hub and a regional office, each an embedded
nats-server configured as ``relais up`` configures it (own JetStream domain, the office a
leaf node of the hub with the login ``relais sites add`` gives it), and an app at each site
built from the shared command path (``Commands``, ``install_forwarding``, ``serve_forwarded``).

A command at the office on a hub-owned counter is forwarded and applied at the hub while the
link is up; refused with 503 naming the owner while the hub is down, with nothing applied
anywhere; applied once after reconnection when the client retries with its Idempotency-Key;
and answered 504 when the owner does not answer in time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
from fastapi import FastAPI, Request, Response
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from relais.embedded import NatsServer
from relais.site_setup import add_site, hub_leaf_config, office_leaf_config, write_leaf_include
from shared.command_http import if_match, scoped_key, tag
from shared.commands import AggregateKind, Commands, Expect
from shared.envelope import Actor, Aggregate
from shared.forwarding import OWNER_HEADER, Forwarder, install_forwarding, serve_forwarded
from shared.http import idempotency_key, install_error_handlers
from shared.nats_accounts import ADMIN, accounts_config, load_or_create_passwords
from shared.nats_store import NatsEventStore
from shared.ownership import owning_site
from shared.reading import iter_stored
from shared.recorded import RecordedEvent
from shared.signing import SigningKey
from shared.sites import link_sites
from shared.streams import ensure_streams
from tests.lab import CounterMoved, CounterOpened
from tests.sites_support import Ports

pytestmark = [pytest.mark.connected, pytest.mark.xdist_group("deployments")]

ACTOR = Actor(user="u-1", agency="ocpm", role="case_worker")
WAIT_S = 30.0


@dataclass(frozen=True)
class Counter:
    total: int = 0


def evolve(state: Counter, recorded: RecordedEvent) -> Counter:
    if isinstance(recorded.event, CounterMoved):
        return replace(state, total=state.total + recorded.event.amount)
    return state


COUNTER = AggregateKind("lab", "counter", Counter(), evolve)


def site_app(nc: NATS, site: str) -> FastAPI:
    """A service of one site, on the shared command path: a counter's creation and moves."""
    store = NatsEventStore(
        nc,
        key=SigningKey.generate(),
        source=f"/relais/{site}/lab/1",
        site=site,
        writable_contexts=("lab",),
    )
    commands = Commands(store, site=site)
    app = FastAPI()
    install_error_handlers(app)
    install_forwarding(app, Forwarder(lambda: nc, site=site, service="lab", timeout_s=2.0))

    @app.post("/counters/{counter_id}", status_code=201)
    async def open_counter(counter_id: str, response: Response) -> dict[str, Any]:
        outcome = await commands.execute(
            COUNTER, counter_id, lambda _: [CounterOpened(label=site)], expect=Expect.new(),
            actor=ACTOR,
        )  # fmt: skip
        tag(response, outcome.version)
        return {"version": outcome.version}

    @app.post("/counters/{counter_id}/moves", status_code=201)
    async def move(counter_id: str, request: Request, response: Response) -> dict[str, Any]:
        amount = int((await request.json())["amount"])
        key = idempotency_key(request)
        outcome = await commands.execute(
            COUNTER,
            counter_id,
            lambda _: [CounterMoved(amount=amount, unit="visit")],
            expect=Expect.seen(if_match(request)),
            actor=ACTOR,
            key=scoped_key(ACTOR.user, "POST", "/counters/{id}/moves", key) if key else None,
        )
        tag(response, outcome.version)
        return {"version": outcome.version, "total": outcome.state.total, "site": site}

    return app


@asynccontextmanager
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://site") as c:
        yield c


async def subjects(nc: NATS, pattern: str) -> list[str]:
    return [subject async for _, subject, _ in iter_stored(nc, "LAB", pattern)]


async def eventually(check: Any, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {WAIT_S} s")
        await asyncio.sleep(0.2)


async def test_commands_on_another_sites_aggregate_go_to_the_owner(tmp_path: Path) -> None:
    users = tmp_path / "users.json"
    credentials = add_site(users, "parakou", "hq")  # as `relais sites add parakou` at the hub
    passwords = load_or_create_passwords(users)
    ports = Ports()  # three distinct ports (two calls of free_port may give the same)
    leaf_port = ports()
    servers = {}
    for site, leaf in (
        ("hq", hub_leaf_config("127.0.0.1", leaf_port)),
        ("parakou", office_leaf_config(f"nats-leaf://127.0.0.1:{leaf_port}", credentials)),
    ):
        nats_dir = tmp_path / site
        servers[site] = NatsServer(
            nats_dir,
            port=ports(),
            accounts=accounts_config(site, passwords),
            jetstream_domain=site,
            extra_config=write_leaf_include(nats_dir, leaf),
            server_name=site,
        )
    hub, office = servers["hq"], servers["parakou"]
    hub.start()
    office.start()
    login = {"user": ADMIN, "password": passwords[ADMIN]}
    hub_nc = await nats.connect(
        hub.url, max_reconnect_attempts=-1, reconnect_time_wait=0.2, **login
    )
    office_nc = await nats.connect(office.url, **login)
    try:
        await ensure_streams(hub_nc.jetstream(), "hq", contexts=("lab",))
        await ensure_streams(office_nc.jetstream(), "parakou", contexts=("lab",))
        await link_sites(
            office_nc.jetstream(), context="lab", site="parakou", remote_site="hq",
            remote_domain="hq",
        )  # fmt: skip
        hub_app, office_app = site_app(hub_nc, "hq"), site_app(office_nc, "parakou")
        responder = await serve_forwarded(hub_nc, hub_app, site="hq", service="lab")
        async with client(hub_app) as at_hub, client(office_app) as at_office:
            # The office's own counter first: its copy of the hub's gets another sequence.
            assert (await at_office.post("/counters/p1")).status_code == 201
            own = await subjects(office_nc, "lab.parakou.>")
            opened = await at_hub.post("/counters/h1")
            assert opened.status_code == 201, opened.text
            version = opened.json()["version"]

            async def office_knows_h1() -> bool:
                return bool(await subjects(office_nc, "lab.hq.counter.h1.>"))

            await eventually(office_knows_h1, "the hub's counter sourced by the office")
            [(read_here, _, _)] = [
                entry async for entry in iter_stored(office_nc, "LAB", "lab.hq.counter.h1.>")
            ]
            assert read_here != version  # the office's sequence of its copy
            # Who owns it, as a read says: one direct get, at either site.
            h1 = Aggregate("lab", "parakou", "counter", "h1")
            assert await owning_site(office_nc.jetstream(), h1) == "hq"
            assert await owning_site(office_nc.jetstream(), replace(h1, id="p1")) == "parakou"
            assert await owning_site(hub_nc.jetstream(), replace(h1, id="nowhere")) is None

            # Linked: forwarded to the hub and applied there, nowhere else; the version the
            # client read at the office is the hub's once translated.
            async def forwarded() -> httpx.Response:
                return await at_office.post(
                    "/counters/h1/moves",
                    json={"amount": 2},
                    headers={"If-Match": f'"{read_here}"', "Idempotency-Key": "linked"},
                )

            moved = await forwarded()
            while moved.status_code == 503:  # the leaf link still coming up
                await asyncio.sleep(0.2)
                moved = await forwarded()
            assert moved.status_code == 201, moved.text
            assert moved.json() == {"version": moved.json()["version"], "total": 2, "site": "hq"}
            assert moved.headers[OWNER_HEADER] == "hq"
            # The owner's numbering, said so (the office's copy has other sequences).
            assert moved.headers["ETag"] == f'"hq.{moved.json()["version"]}"'
            etag = moved.headers["ETag"]
            assert len(await subjects(hub_nc, "lab.hq.counter.h1.>")) == 2
            assert await subjects(office_nc, "lab.parakou.>") == own

            # The hub goes down: refused, naming the owner, in French and English.
            hub.stop()
            retry = {"If-Match": etag, "Idempotency-Key": "while-down"}
            for lang, words in (("en", "owned by site hq"), ("fr", "appartient au site hq")):
                refused = await at_office.post(
                    "/counters/h1/moves",
                    json={"amount": 5},
                    headers={**retry, "Accept-Language": lang},
                )
                assert refused.status_code == 503, refused.text
                error = refused.json()["error"]
                assert error["code"] == "owned_by_another_site"
                assert error["owner_site"] == "hq"
                assert words in error["message"]
                assert refused.headers[OWNER_HEADER] == "hq"
            assert await subjects(office_nc, "lab.parakou.>") == own  # never applied locally

            # Back: the client's retry with the same key is applied once, at the hub.
            hub.start()
            started = time.monotonic()
            applied = await at_office.post("/counters/h1/moves", json={"amount": 5}, headers=retry)
            while applied.status_code == 503 and time.monotonic() - started < WAIT_S:
                await asyncio.sleep(0.3)
                applied = await at_office.post(
                    "/counters/h1/moves", json={"amount": 5}, headers=retry
                )
            assert applied.status_code == 201, applied.text
            assert applied.json()["total"] == 7
            again = await at_office.post("/counters/h1/moves", json={"amount": 5}, headers=retry)
            assert again.status_code == 201, again.text
            assert again.json()["version"] == applied.json()["version"]
            assert len(await subjects(hub_nc, "lab.hq.counter.h1.>")) == 3  # opened, 2, 5
            assert await subjects(office_nc, "lab.parakou.>") == own

            # Sent but never answered: 504, naming the owner.
            await responder.unsubscribe()

            async def silent(msg: Msg) -> None:
                return None

            await hub_nc.subscribe("relais.forward.hq.lab", cb=silent)
            await hub_nc.flush()
            late = await at_office.post(
                "/counters/h1/moves",
                json={"amount": 1},
                headers={"If-Match": applied.headers["ETag"], "Idempotency-Key": "late"},
            )
            assert late.status_code == 504, late.text
            assert late.json()["error"]["code"] == "owner_did_not_answer"
            assert late.json()["error"]["owner_site"] == "hq"
    finally:
        await office_nc.close()
        await hub_nc.close()
        office.stop(kill=True)
        hub.stop(kill=True)
