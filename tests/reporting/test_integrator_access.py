"""Integrators' NATS access, on a real nats-server with the accounts Relais generates: each
reads its own copy of the feed through its durable consumer (and resumes after a disconnection
without losing or reordering anything), is shut out at once when revoked, and can do nothing
else: no other stream, no other integrator's consumer, no consumer of its own making, no
publish. Changes go through ``relais integrators`` and a config reload, never a restart."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client as NATS

from relais import integrators as cli
from relais.consumers import service_consumers
from relais.embedded import NatsServer, free_port
from shared import integrators
from shared.config import Settings
from shared.integrators import API_PREFIX, PUBLIC_STREAM
from shared.nats_accounts import ADMIN, accounts_config, load_or_create_passwords
from shared.streams import OPERATED, desired_config, ensure_streams, max_age_for, violations

pytestmark = pytest.mark.connected

DENIED = (nats.errors.TimeoutError, nats.errors.NoRespondersError)


@dataclass
class Deployment:
    server: NatsServer
    settings: Settings
    reporting: NATS
    passwords: dict[str, str]  # integrators' passwords, as handed over

    async def login(self, name: str, errors: list[str] | None = None, **kw: object) -> NATS:
        async def on_error(exc: Exception) -> None:
            if errors is not None:
                errors.append(str(exc))

        return await nats.connect(
            self.server.url,
            user=name,
            password=self.passwords[name],
            allow_reconnect=False,
            error_cb=on_error,
            **kw,  # type: ignore[arg-type]
        )


@pytest.fixture
async def deployment(tmp_path: Path) -> AsyncIterator[Deployment]:
    settings = Settings(data_dir=tmp_path)
    handed: dict[str, str] = {}
    for name in ("acme", "stats"):
        _, handed[name] = integrators.add(settings.integrators_path, name)
    service_passwords = load_or_create_passwords(settings.nats_users_path)
    registry = integrators.load(settings.integrators_path)
    registered, everyone = registry.active(), list(registry.integrators.values())
    server = NatsServer(
        tmp_path / "nats",
        port=free_port(),
        accounts=accounts_config("hq", service_passwords, service_consumers(everyone), registered),
    ).start()
    settings = settings.model_copy(update={"nats_url": server.url})
    # The operator creates the streams; reporting creates the integrators' consumers.
    admin = await nats.connect(server.url, user="relais_admin", password=service_passwords[ADMIN])
    await ensure_streams(admin.jetstream(), "hq", contexts=OPERATED)
    await admin.close()
    reporting = await nats.connect(
        server.url, user="reporting", password=service_passwords["reporting"]
    )
    js = reporting.jetstream()
    for name in handed:
        await integrators.ensure_consumer(js, name)
    try:
        yield Deployment(server, settings, reporting, handed)
    finally:
        await reporting.close()
        server.stop()


async def publish(dep: Deployment, name: str, first: int, count: int) -> None:
    js = dep.reporting.jetstream()
    for n in range(first, first + count):
        await js.publish(f"public.{name}.hq.intake.ReportRegistered", json.dumps(n).encode())


async def read(nc: NATS, consumer: str, count: int) -> list[int]:
    feed = await nc.jetstream(prefix=API_PREFIX).pull_subscribe_bind(consumer, stream="PUBLIC")
    got: list[int] = []
    while len(got) < count:
        for msg in await feed.fetch(min(100, count - len(got)), timeout=5):
            got.append(json.loads(msg.data))
            await msg.ack()
    return got


async def test_a_disconnected_integrator_gets_all_it_missed_in_order(dep: Deployment) -> None:
    await publish(dep, "acme", 0, 10)
    acme = await dep.login("acme")
    assert await read(acme, "acme", 10) == list(range(10))
    await acme.close()

    # While it is away: 500 of its events, and as many of another integrator's.
    for start in range(10, 510, 50):
        await publish(dep, "acme", start, 50)
        await publish(dep, "stats", start, 50)

    acme = await dep.login("acme")
    assert await read(acme, "acme", 500) == list(range(10, 510))
    # Its acknowledgements reach the consumer (they travel asynchronously).
    for _ in range(100):
        info = await acme.jetstream(prefix=API_PREFIX).consumer_info(PUBLIC_STREAM, "acme")
        if info.num_ack_pending == 0:
            break
        await asyncio.sleep(0.05)
    last_of_acme = 10 + 9 * 100 + 50  # its 10, then 50 of its own after 50 of the other
    assert (info.num_pending, info.num_ack_pending, info.ack_floor.stream_seq) == (
        0,
        0,
        last_of_acme,
    )
    await acme.close()


async def test_a_revoked_integrator_is_shut_out_at_once(dep: Deployment) -> None:
    acme = await dep.login("acme", closed_cb=_flag(closed := asyncio.Event()))
    stats = await dep.login("stats")
    said = await cli.revoke(dep.settings, "acme")
    assert said.code == 0 and any("reloaded" in line for line in said.lines), said
    await asyncio.wait_for(closed.wait(), 2)  # its open connection is closed by the reload
    assert acme.is_closed
    with pytest.raises(nats.errors.Error, match="Authorization Violation"):
        await dep.login("acme")
    # Nobody else was disconnected, and the others' feeds go on.
    assert stats.is_connected and dep.reporting.is_connected
    await publish(dep, "stats", 0, 3)
    assert await read(stats, "stats", 3) == [0, 1, 2]
    with pytest.raises(nats.js.errors.NotFoundError):
        await dep.reporting.jetstream().consumer_info(PUBLIC_STREAM, "acme")
    await stats.close()

    # A new integrator is let in while everything runs, by the same reload.
    said = await cli.add(dep.settings, "ministry", None, dep.settings.data_dir / "m.json", None)
    assert said.code == 0, said
    handed = json.loads((dep.settings.data_dir / "m.json").read_text())
    assert handed["api_prefix"] == API_PREFIX and handed["consumer"] == "ministry"
    dep.passwords["ministry"] = handed["password"]
    ministry = await dep.login("ministry")
    await publish(dep, "ministry", 0, 2)
    assert await read(ministry, "ministry", 2) == [0, 1]
    await ministry.close()


async def test_an_integrator_can_do_nothing_else(dep: Deployment) -> None:
    await publish(dep, "stats", 0, 5)
    errors: list[str] = []
    acme = await dep.login("acme", errors)
    # A denied request is never answered; the server says why on the error callback, which
    # is what proves the refusal (a timeout alone could be a slow machine).
    mine = acme.jetstream(prefix=API_PREFIX, timeout=0.3)
    plain = acme.jetstream(timeout=0.3)

    # No other integrator's consumer, no other stream, through either API prefix.
    with pytest.raises(DENIED):
        await (await mine.pull_subscribe_bind("stats", stream="PUBLIC")).fetch(1, timeout=0.3)
    for js in (mine, plain):
        with pytest.raises(DENIED):
            await js.stream_info("INTAKE")
        with pytest.raises(DENIED):
            await js.consumer_info("INTAKE", "acme")
        with pytest.raises(DENIED):
            await js.get_msg("PUBLIC", 1)
    # No consumer of its own making, on PUBLIC or elsewhere (a push consumer's delivery
    # subject could write into another stream: decision 0021).
    for js in (mine, plain):
        for stream in ("PUBLIC", "INTAKE"):
            with pytest.raises(DENIED):
                await js.add_consumer(stream, durable_name="mine", filter_subject="public.acme.>")
        # The other form of the call, which names the filter in the subject.
        with pytest.raises(DENIED):
            await acme.request(
                f"{js._prefix}.CONSUMER.CREATE.PUBLIC.mine.public.acme.>",
                json.dumps({"stream_name": "PUBLIC", "config": {"name": "mine"}}).encode(),
                timeout=0.3,
            )
    # No publishing: not the feed, not a log, not another integrator's acknowledgements.
    public_before = (await dep.reporting.jetstream().stream_info("PUBLIC")).state.messages
    for subject in (
        "public.acme.hq.intake.ReportRegistered",
        "intake.hq.report.r1.ReportRegistered",
        "$JS.ACK.PUBLIC.stats.1.1.1.1.1.0",
    ):
        await acme.publish(subject, b"{}")
    # No listening to anything but its own inboxes.
    await acme.subscribe("public.>")
    await acme.subscribe(">")
    await acme.flush()
    refused = [
        f"{API_PREFIX}.CONSUMER.MSG.NEXT.PUBLIC.stats",
        *(
            f"{p}.{what}"
            for p in (API_PREFIX, "$JS.API")
            for what in (
                "STREAM.INFO.INTAKE",
                "CONSUMER.INFO.INTAKE.acme",
                "STREAM.MSG.GET.PUBLIC",
                "CONSUMER.CREATE.PUBLIC.mine.public.acme.>",
                "CONSUMER.DURABLE.CREATE.PUBLIC.mine",
                "CONSUMER.DURABLE.CREATE.INTAKE.mine",
            )
        ),
        "public.acme.hq.intake.ReportRegistered",
        "intake.hq.report.r1.ReportRegistered",
        "$JS.ACK.PUBLIC.stats.1.1.1.1.1.0",
    ]
    said = ""
    for _ in range(100):
        said = "\n".join(e.lower() for e in errors if "permissions violation" in e.lower())
        if all(f'"{subject.lower()}"' in said for subject in refused):
            break
        await asyncio.sleep(0.05)
    assert [r for r in refused if f'"{r.lower()}"' not in said] == [], said
    assert said.count("subscription") >= 2, said
    after = await dep.reporting.jetstream().stream_info("PUBLIC")
    assert after.state.messages == public_before
    stats_info = await dep.reporting.jetstream().consumer_info(PUBLIC_STREAM, "stats")
    assert stats_info.num_pending == 5 and stats_info.delivered.stream_seq == 0
    await acme.close()


def _flag(event: asyncio.Event):  # type: ignore[no-untyped-def]
    async def closed() -> None:
        event.set()

    return closed


dep = deployment


def test_public_keeps_copies_as_long_as_the_deployment_says() -> None:
    """RELAIS_PUBLIC_RETENTION_DAYS is PUBLIC's one allowed expiry; the log never expires."""
    week = 7 * 86_400.0
    public = desired_config("public", "hq", max_age_s=max_age_for("public", week))
    assert public.max_age == week and public.subjects == ["public.*.hq.>"]
    assert violations(public, subjects=["public.*.hq.>"], max_age_s=week) == []
    assert violations(public, subjects=["public.*.hq.>"]) == ["messages expire (max_age)"]
    assert max_age_for("intake", week) == 0.0
    forever = desired_config("public", "hq")
    assert violations(forever, max_age_s=week) == [f"messages kept for ever, expected {week} s"]
