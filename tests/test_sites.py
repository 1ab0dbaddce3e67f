"""A regional office on a leaf node keeps working offline and catches up with the hub.

The servers run the configuration files in ``deploy/nats/`` themselves: the test reads them,
replaces only the addresses, ports and store directories (each replacement must match the
file exactly once, so a changed file fails here rather than being tested half), and starts
nats-server 2.14 from the wheel on loopback.
"""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path

import httpx
import nats
import pytest
from nats.js.api import StreamSource

from relais.embedded import NatsServer
from shared.envelope import Aggregate
from shared.sites import link_sites, site_source
from shared.streams import ensure_streams
from tests.lab import CounterMoved, CounterOpened
from tests.sites_support import (
    ACTOR,
    DEPLOY,
    SOURCE_RETRY_S,
    Ports,
    connected,
    deploy_config,
    eventually,
    hub_server,
    leaf_server,
    monitor,
    store_for,
    stored,
)

# Whole deployments on real servers: one at a time (one xdist worker), not two at once.
pytestmark = [pytest.mark.system, pytest.mark.xdist_group("deployments")]


def test_deploy_files_keep_every_write_on_disk_in_their_own_domain() -> None:
    hub_confs = [DEPLOY / "cluster" / f"hub-{n}.conf" for n in (1, 2, 3)]
    leaf_conf = DEPLOY / "leaf" / "parakou.conf"
    for conf in (DEPLOY / "single.conf", *hub_confs, leaf_conf):
        assert "sync_interval: always" in conf.read_text(), conf
    for n, conf in enumerate(hub_confs, start=1):
        text = conf.read_text()
        assert "domain: hub" in text and "listen: 0.0.0.0:7422" in text
        # The three nodes differ only in their name.
        as_node_1 = (
            text.replace(f"node {n} of 3", "node 1 of 3")
            .replace(f"/hub-{n}.conf", "/hub-1.conf")
            .replace(f"server_name: hub-{n}\n", "server_name: hub-1\n")
        )
        assert as_node_1 == hub_confs[0].read_text(), conf
    assert "domain: parakou" in leaf_conf.read_text()


async def test_office_works_offline_and_both_sides_catch_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ports = Ports()
    leaf_port = ports()
    # Starts with a digit: the server reads the variable as configuration, so it must be
    # quoted, as deploy/ says (unquoted, the hub refuses to start).
    password = "7" + secrets.token_hex(16)
    monkeypatch.setenv("RELAIS_LEAF_PARAKOU_PASSWORD", json.dumps(password))
    monkeypatch.setenv(
        "RELAIS_HUB_LEAF_URLS",
        json.dumps([f"nats-leaf://parakou:{password}@127.0.0.1:{leaf_port}"]),
    )
    hub, hub_http = hub_server(tmp_path, ports, leaf_port)
    leaf, leaf_http = leaf_server(tmp_path, ports)
    timings: dict[str, float] = {}
    try:
        hub.start()
        leaf.start()
        # The deploy files, not the embedded defaults, configured the servers.
        for http_port, domain in ((hub_http, "hub"), (leaf_http, "parakou")):
            js_config = (await monitor(http_port, "varz"))["jetstream"]["config"]
            assert js_config["domain"] == domain
            assert js_config["sync_always"] is True

        async def linked() -> bool:
            return int((await monitor(leaf_http, "leafz"))["leafnodes"]) == 1

        timings["leaf link up"] = await eventually(linked, "leaf node connected to the hub")

        async with connected(hub) as hub_nc, connected(leaf) as leaf_nc:
            hub_js, leaf_js = hub_nc.jetstream(), leaf_nc.jetstream()
            await ensure_streams(hub_js, "hq", contexts=("lab",))
            await ensure_streams(leaf_js, "parakou", contexts=("lab",))
            assert await link_sites(
                hub_js, context="lab", site="hq", remote_site="parakou", remote_domain="parakou"
            )
            assert await link_sites(
                leaf_js, context="lab", site="parakou", remote_site="hq", remote_domain="hub"
            )
            # Idempotent, and the streams' own upkeep leaves the sources in place.
            assert not await link_sites(
                hub_js, context="lab", site="hq", remote_site="parakou", remote_domain="parakou"
            )
            await ensure_streams(hub_js, "hq", contexts=("lab",))
            hub_sources = (await hub_js.stream_info("LAB")).config.sources or []
            assert [_key(s) for s in hub_sources] == [
                _key(site_source("lab", "parakou", "parakou"))
            ]
            # Each side listens only on its own site's subjects.
            assert (await hub_js.stream_info("LAB")).config.subjects == ["lab.hq.>"]
            assert (await leaf_js.stream_info("LAB")).config.subjects == ["lab.parakou.>"]

            office = store_for(leaf_nc, "parakou")
            counter = Aggregate("lab", "parakou", "counter", "p1")
            written: list[bytes] = []
            head = 0
            for event in (
                CounterOpened(label="parakou"),
                CounterMoved(amount=1, unit="visit"),
                CounterMoved(amount=2, unit="visit"),
            ):
                result = await office.append(counter, head, [event], actor=ACTOR)
                head = result.head.seq
                written.extend(e.raw for e in result.events)

            async def hub_has(n: int) -> bool:
                return len(await stored(hub_nc, "lab.parakou.>")) == n

            timings["3 online on hub"] = await eventually(
                lambda: hub_has(3), "online writes sourced"
            )

            # Online, a hub write reaches the office at once.
            hub_store = store_for(hub_nc, "hq")
            first = await hub_store.append(
                Aggregate("lab", "hq", "counter", "h0"), 0, [CounterOpened(label="hq")], actor=ACTOR
            )
            hub_writes = [e.raw for e in first.events]

            async def office_has_first_hub_write() -> bool:
                return [p for _, p, _ in await stored(leaf_nc, "lab.hq.>")] == hub_writes

            timings["online hub write on office"] = await eventually(
                office_has_first_hub_write, "online hub write sourced by the office"
            )

        hub.stop()
        assert hub.process is not None and hub.process.poll() is not None

        async def unlinked() -> bool:
            return int((await monitor(leaf_http, "leafz"))["leafnodes"]) == 0

        await eventually(unlinked, "leaf node sees the hub gone")

        async with connected(leaf) as leaf_nc:
            office = store_for(leaf_nc, "parakou")
            started = time.monotonic()
            for amount in range(3, 8):  # five writes, acknowledged while the hub is down
                result = await office.append(
                    counter, head, [CounterMoved(amount=amount, unit="visit")], actor=ACTOR
                )
                head = result.head.seq
                written.extend(e.raw for e in result.events)
            timings["5 offline writes"] = time.monotonic() - started
            assert await unlinked()
            leaf_copy = await stored(leaf_nc, "lab.parakou.>")
            assert [payload for _, payload, _ in leaf_copy] == written

            restarted = time.monotonic()
            hub.start()  # same store directory, same configuration
            async with connected(hub) as hub_nc:

                async def hub_caught_up() -> bool:
                    return len(await stored(hub_nc, "lab.parakou.>")) >= 8

                await eventually(hub_caught_up, "hub caught up after restart")
                timings["8 on hub after restart"] = time.monotonic() - restarted
                on_hub = await stored(hub_nc, "lab.parakou.>")
                assert [payload for _, payload, _ in on_hub] == written  # in order, same bytes
                assert [subject for subject, _, _ in on_hub] == [s for s, _, _ in leaf_copy]
                assert all("Nats-Stream-Source" in headers for _, _, headers in on_hub)
                # The chain and signatures travel intact: the hub reads the office's aggregate.
                hub_view = store_for(hub_nc, "hq")
                assert [e.raw for e in await hub_view.load(counter)] == written

                # And the other way: a hub write reaches the office.
                hq = Aggregate("lab", "hq", "counter", "h1")
                hub_write = await hub_view.append(hq, 0, [CounterOpened(label="hq")], actor=ACTOR)

                hub_writes.extend(e.raw for e in hub_write.events)

                async def office_has_hub_writes() -> bool:
                    return [p for _, p, _ in await stored(leaf_nc, "lab.hq.>")] == hub_writes

                # The office's source of the hub broke when the hub went away; the office's
                # server re-creates it at its next health checks (SOURCE_RETRY_S).
                timings["hub write on office"] = await eventually(
                    office_has_hub_writes, "hub write sourced by the office", SOURCE_RETRY_S
                )
            # Nothing was captured twice: the office holds its 8 events and the hub's two.
            leaf_info = await leaf_nc.jetstream().stream_info("LAB")
            assert leaf_info.state.messages == 10
    finally:
        leaf.stop(kill=True)
        hub.stop(kill=True)
    print(" ".join(f"{k}: {v:.2f}s" for k, v in timings.items()))


def _key(source: StreamSource) -> tuple[str, str | None, str | None]:
    return (source.name, source.filter_subject, source.external.api if source.external else None)


async def test_hub_cluster_from_deploy_files_serves_the_office_with_a_node_down(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The three hub files as they are (routes included) form the R3 hub the office uses."""
    ports = Ports()
    nodes = {n: {k: ports() for k in ("client", "http", "route", "leaf")} for n in (1, 2, 3)}
    password = secrets.token_hex(16)
    monkeypatch.setenv("RELAIS_LEAF_PARAKOU_PASSWORD", json.dumps(password))
    monkeypatch.setenv(
        "RELAIS_HUB_LEAF_URLS",
        json.dumps(
            [f"nats-leaf://parakou:{password}@127.0.0.1:{p['leaf']}" for p in nodes.values()]
        ),
    )
    hubs: dict[int, NatsServer] = {}
    for n, p in nodes.items():
        routes = {
            f"nats-route://hub-{m}:6222": f"nats-route://127.0.0.1:{q['route']}"
            for m, q in nodes.items()
        }
        config = deploy_config(
            f"cluster/hub-{n}.conf",
            {
                "0.0.0.0:4222": f"127.0.0.1:{p['client']}",
                "127.0.0.1:8222": f"127.0.0.1:{p['http']}",
                "0.0.0.0:6222": f"127.0.0.1:{p['route']}",
                "0.0.0.0:7422": f"127.0.0.1:{p['leaf']}",
                '"/var/lib/nats"': json.dumps(str(tmp_path / f"hub-{n}" / "jetstream")),
                **routes,
            },
        )
        hubs[n] = NatsServer(
            tmp_path / f"hub-{n}", port=p["client"], extra_config=config, server_name=f"hub-{n}"
        )
    leaf, _leaf_http = leaf_server(tmp_path, ports)
    timings: dict[str, float] = {}
    try:
        for hub in hubs.values():
            hub.start()
        leaf.start()

        async def cluster_ready() -> bool:
            for p in nodes.values():
                try:
                    varz = await monitor(p["http"], "varz")
                    await monitor(p["http"], "healthz")
                except httpx.HTTPError:
                    return False
                if varz["jetstream"]["config"]["domain"] != "hub":
                    return False
            return True

        timings["cluster ready"] = await eventually(cluster_ready, "hub cluster healthy", 30)
        hub_urls = [hub.url for hub in hubs.values()]
        hub_nc = await nats.connect(servers=hub_urls, reconnect_time_wait=0.2)
        try:
            async with connected(leaf) as leaf_nc:
                hub_js, leaf_js = hub_nc.jetstream(), leaf_nc.jetstream()
                await ensure_streams(hub_js, "hq", contexts=("lab",), replicas=3)
                await ensure_streams(leaf_js, "parakou", contexts=("lab",))
                await link_sites(
                    hub_js, context="lab", site="hq", remote_site="parakou", remote_domain="parakou"
                )
                await link_sites(
                    leaf_js, context="lab", site="parakou", remote_site="hq", remote_domain="hub"
                )
                info = await hub_js.stream_info("LAB")
                assert info.config.num_replicas == 3
                assert info.cluster is not None and info.cluster.leader is not None

                office = store_for(leaf_nc, "parakou")
                counter = Aggregate("lab", "parakou", "counter", "p1")
                written: list[bytes] = []
                head = 0

                async def office_writes(*amounts: int) -> None:
                    nonlocal head
                    for amount in amounts:
                        event = (
                            CounterMoved(amount=amount, unit="visit")
                            if head
                            else CounterOpened(label="parakou")
                        )
                        result = await office.append(counter, head, [event], actor=ACTOR)
                        head = result.head.seq
                        written.extend(e.raw for e in result.events)

                async def hub_has_all() -> bool:
                    try:
                        on_hub = await stored(hub_nc, "lab.parakou.>")
                    except Exception:
                        return False  # the cluster is electing a new leader
                    return [p for _, p, _ in on_hub] == written

                await office_writes(0, 1, 2)
                timings["3 on hub"] = await eventually(hub_has_all, "office writes on the hub")

                # The stream's leader goes away: the other two keep the stream and its source.
                leader = info.cluster.leader
                hubs[int(leader.removeprefix("hub-"))].stop()
                stopped = time.monotonic()
                await office_writes(3, 4)
                await eventually(
                    hub_has_all, "office writes on the hub with a node down", SOURCE_RETRY_S
                )
                timings["2 more on hub, leader down"] = time.monotonic() - stopped

                async def new_leader() -> bool:
                    try:
                        cluster = (await hub_js.stream_info("LAB")).cluster
                    except Exception:
                        return False
                    return cluster is not None and cluster.leader not in (None, leader)

                await eventually(new_leader, "a new leader for the hub's stream", SOURCE_RETRY_S)
                hq = store_for(hub_nc, "hq")
                hub_write = await hq.append(
                    Aggregate("lab", "hq", "counter", "h1"),
                    0,
                    [CounterOpened(label="hq")],
                    actor=ACTOR,
                )

                async def office_has_hub_write() -> bool:
                    return [p for _, p, _ in await stored(leaf_nc, "lab.hq.>")] == [
                        hub_write.events[0].raw
                    ]

                timings["hub write on office"] = await eventually(
                    office_has_hub_write, "hub write sourced by the office", SOURCE_RETRY_S
                )
        finally:
            await hub_nc.close()
    finally:
        leaf.stop(kill=True)
        for hub in hubs.values():
            hub.stop(kill=True)
    print(" ".join(f"{k}: {v:.2f}s" for k, v in timings.items()))
