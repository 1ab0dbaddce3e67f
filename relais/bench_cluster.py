"""``relais bench --cluster``: the backbone's append and replay on three nats-servers from the
wheel, formed into one cluster on loopback, with the bench's streams kept on three copies
(as headquarters runs them: ``deploy/nats/hq/node.conf``), beside the single server's."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import nats

from relais.bench_results import err
from relais.embedded import NatsServer, free_port, nats_server_binary
from shared.streams import ensure_streams

NODES = 3
READY_TIMEOUT_S = 60.0

Measure = Callable[..., Coroutine[Any, Any, dict[str, Any]]]


def cluster_servers(base: Path, nodes: int = NODES) -> list[NatsServer]:
    """``nodes`` nats-servers (not started) routed to each other on loopback."""
    ports = [(free_port(), free_port()) for _ in range(nodes)]
    routes = "\n".join(f"    nats-route://127.0.0.1:{route}" for _, route in ports)
    servers = []
    for n, (client, route) in enumerate(ports, start=1):
        block = (
            f"cluster {{\n  name: relais-bench\n  listen: 127.0.0.1:{route}\n"
            f"  routes: [\n{routes}\n  ]\n}}\n"
        )
        servers.append(
            NatsServer(base / f"node-{n}", port=client, extra_config=block, server_name=f"n{n}")
        )
    return servers


async def _ready(url: str) -> None:
    """Until the cluster has a meta leader and can create a stream of three copies."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + READY_TIMEOUT_S
    while True:
        try:
            nc = await nats.connect(servers=url.split(","), connect_timeout=2)
            try:
                await ensure_streams(
                    nc.jetstream(timeout=5), "hq", contexts=("bench",), replicas=NODES
                )
                return
            finally:
                await nc.close()
        except Exception:
            if loop.time() > deadline:
                raise
            await asyncio.sleep(0.5)


def measure_on_cluster(base: Path, events: int, db_url: str, measure: Measure) -> dict[str, Any]:
    """The backbone figures on a fresh three-node cluster (its directories wiped first)."""
    shutil.rmtree(base / "cluster", ignore_errors=True)
    servers = cluster_servers(base / "cluster")
    try:
        for server in servers:
            server.start()
        url = ",".join(server.url for server in servers)
        err.log(f"cluster: {NODES} nodes, streams of {NODES} copies")
        asyncio.run(_ready(url))
        out = subprocess.run([nats_server_binary(), "--version"], capture_output=True)
        version = out.stdout.decode().strip().removeprefix("nats-server: ")
        report = asyncio.run(measure(events, url, db_url, version, NODES))
    finally:
        for server in servers:
            server.stop()
    report["nodes"] = NODES
    return report
