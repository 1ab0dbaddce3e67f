"""Headquarters on three machines: the NATS cluster of ``deploy/nats/hq/node.conf`` (three
nodes from the wheel on loopback, every service's own user), streams with three copies, and
two intake instances sharing one database. One node is SIGKILLed half-way through the report
registrations, sent alternately to both instances with an ``Idempotency-Key``, and started
again: every registration answered 2xx is in the log exactly once, nothing answers 500, a
client retrying its 503s with the same key ends with every report stored once, the child
recorder (intake's inbox policy, run by both instances) records each report's child once,
and ``relais audit verify`` given the three nodes passes."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import nats
import pytest
from nats.aio.client import Client as NATS

from relais.audit import verify_log
from relais.consumers import service_consumers
from relais.embedded import NatsServer, write_private
from shared.auth import LocalIssuer
from shared.command_http import new_aggregate_id, scoped_key
from shared.nats_accounts import ADMIN, accounts_config, load_or_create_passwords
from shared.reading import iter_stored
from shared.streams import ensure_streams
from tests.sites_support import Ports, deploy_config, eventually, monitor

# Whole deployments on real servers: one at a time (one xdist worker), not two at once.
pytestmark = [pytest.mark.system, pytest.mark.xdist_group("deployments")]

REPORTS = int(os.environ.get("RELAIS_CLUSTER_TEST_REPORTS", "500"))
DOWN_S = 3.0  # how long the killed node stays down
RATE = 50.0  # registrations sent a second, whatever the earlier ones are doing
CONCURRENCY = 24  # requests in flight at once, over both instances
OPERATOR, AGENCY = "op-1", "ocpm"
NODES = (1, 2, 3)
READY_S = 60.0


def report_of(key: str) -> str:
    return new_aggregate_id(scoped_key(OPERATOR, "POST", "/reports", key), "intake.report")


def body() -> dict[str, object]:
    received = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    return {
        "channel": "hotline_116",
        "received_at": received,
        "commune": "bj-littoral-cotonou",
        "concerns": ["child_labour"],
        "children": [{"unidentified": True, "sex": "female"}],
    }


class Cluster:
    """The three nodes of deploy/nats/hq/node.conf on loopback, each naming itself through
    ``RELAIS_NATS_NODE`` as the compose profile does."""

    def __init__(self, base: Path, accounts: str) -> None:
        ports = Ports()
        self.ports = {n: {k: ports() for k in ("client", "http", "route")} for n in NODES}
        self.nodes: dict[int, NatsServer] = {}
        for n, p in self.ports.items():
            routes = {
                f"nats-route://nats-{m}:6222": f"nats-route://127.0.0.1:{q['route']}"
                for m, q in self.ports.items()
            }
            config = deploy_config(
                "hq/node.conf",
                {
                    "0.0.0.0:4222": f"127.0.0.1:{p['client']}",
                    "0.0.0.0:8222": f"127.0.0.1:{p['http']}",
                    "0.0.0.0:6222": f"127.0.0.1:{p['route']}",
                    '"/data"': json.dumps(str(base / f"nats-{n}" / "jetstream")),
                    **routes,
                },
            )
            write_private(base / f"nats-{n}" / "accounts" / "accounts.conf", accounts)
            self.nodes[n] = NatsServer(
                base / f"nats-{n}", port=p["client"], extra_config=config, server_name=f"nats-{n}"
            )

    @property
    def urls(self) -> list[str]:
        return [node.url for node in self.nodes.values()]

    def start(self, n: int) -> None:
        os.environ["RELAIS_NATS_NODE"] = f"nats-{n}"  # read by the server at its start
        try:
            self.nodes[n].start()
        finally:
            del os.environ["RELAIS_NATS_NODE"]

    async def healthy(self, n: int) -> bool:
        try:
            await monitor(self.ports[n]["http"], "healthz")
            varz = await monitor(self.ports[n]["http"], "varz")
        except httpx.HTTPError:
            return False
        return bool(varz["server_name"] == f"nats-{n}" and varz["jetstream"]["config"])

    def stop(self) -> None:
        for node in self.nodes.values():
            node.stop(kill=True)


def intake_instance(
    name: str,
    port: int,
    data_dir: Path,
    nats_urls: list[str],
    database: tuple[str, str],
    password: str,
) -> subprocess.Popen[bytes]:
    database_url, prefix = database
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("NATS_URL", "DATABASE_URL") and not k.startswith("RELAIS_")
    }
    env.update(
        {
            "RELAIS_SERVICE": "intake",
            "RELAIS_INSTANCE": name,
            "RELAIS_SITE": "hq",
            "RELAIS_PORT": str(port),
            "RELAIS_DATA_DIR": str(data_dir),
            "RELAIS_NATS_REPLICAS": "3",
            "RELAIS_NATS_USER": "intake",
            "RELAIS_NATS_PASSWORD": password,
            "NATS_URL": ",".join(nats_urls),
            "DATABASE_URL": database_url,
            "RELAIS_DATABASE_PREFIX": prefix,
        }
    )
    with (data_dir / f"intake-{name}.log").open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "services.intake"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


async def wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + READY_S
    async with httpx.AsyncClient(base_url=url, timeout=2) as client:
        while time.monotonic() < deadline:
            assert process.poll() is None, log.read_text()[-3000:]
            try:
                if (await client.get("/health")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise AssertionError(f"intake not healthy in {READY_S} s:\n{log.read_text()[-3000:]}")


@pytest.fixture
def instances() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


async def register(
    urls: list[str],
    token: str,
    keys: list[str],
    at: dict[int, Callable[[], None]],
    errors: list[str],
    refusals: Counter[str],
    refused_at: list[float],
) -> dict[str, int]:
    """POST every report, ``RATE`` a second, alternating between the instances; ``at[k]``
    runs once ``k`` answers came back."""
    answers: dict[str, int] = {}
    headers = {"Authorization": f"Bearer {token}"}
    gate = asyncio.Semaphore(CONCURRENCY)
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    clients = [httpx.AsyncClient(base_url=u, limits=limits, timeout=120) for u in urls]
    try:

        async def one(i: int, key: str) -> None:
            await asyncio.sleep(i / RATE)  # open loop: the n-th leaves at n / RATE seconds
            async with gate:
                try:
                    answer = await clients[i % 2].post(
                        "/reports", json=body(), headers={**headers, "Idempotency-Key": key}
                    )
                except httpx.TransportError as exc:
                    answers[key] = 0
                    errors.append(f"{key}: {type(exc).__name__}")
                    return
            answers[key] = answer.status_code
            assert "Traceback" not in answer.text
            if answer.status_code == 503:
                assert answer.headers.get("Retry-After"), answer.text
                assert answer.json()["error"]["stored"] is False, answer.text
                refusals[answer.json()["error"]["code"]] += 1
                refused_at.append(time.monotonic())
            action = at.pop(len(answers), None)
            if action is not None:
                action()

        await asyncio.gather(*(one(i, k) for i, k in enumerate(keys)))
    finally:
        for client in clients:
            await client.aclose()
    return answers


async def retry_refused(urls: list[str], token: str, answers: dict[str, int]) -> int:
    """Send the 503s and 504s again with the same key, as a client would; returns rounds."""
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(timeout=120) as client:
        for attempt in range(60):
            pending = [k for k, status in answers.items() if status in (0, 503, 504)]
            if not pending:
                return attempt
            results = await asyncio.gather(
                *(
                    client.post(
                        f"{urls[(attempt + i) % 2]}/reports",
                        json=body(),
                        headers={**headers, "Idempotency-Key": k},
                    )
                    for i, k in enumerate(pending)
                ),
                return_exceptions=True,
            )
            for key, answer in zip(pending, results, strict=True):
                if isinstance(answer, BaseException):
                    continue
                assert answer.status_code != 500, answer.text
                answers[key] = answer.status_code
            await asyncio.sleep(1)
    raise AssertionError("reports still refused after retrying for a minute")


async def subjects(nc: NATS, pattern: str) -> Counter[str]:
    """How many events the INTAKE stream holds per aggregate id, on ``pattern``."""
    return Counter(
        [subject.split(".")[3] async for _, subject, _ in iter_stored(nc, "INTAKE", pattern)]
    )


async def test_two_intake_instances_on_a_three_node_cluster_keep_every_report_once(
    tmp_path: Path, pg_server_url: str, instances: list[subprocess.Popen[bytes]]
) -> None:
    timings: dict[str, float] = {}
    started = time.monotonic()
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    passwords = load_or_create_passwords(data_dir / "nats" / "users.json")
    cluster = Cluster(tmp_path, accounts_config("hq", passwords, service_consumers()))
    try:
        for n in NODES:
            cluster.start(n)

        async def all_healthy() -> bool:
            return all([await cluster.healthy(n) for n in NODES])

        await eventually(all_healthy, "the three nodes healthy", 30)
        admin = await nats.connect(
            servers=cluster.urls, user=ADMIN, password=passwords[ADMIN], reconnect_time_wait=0.2
        )
        try:

            async def streams_created() -> bool:
                try:
                    await ensure_streams(admin.jetstream(timeout=10), "hq", replicas=3)
                except Exception:
                    return False  # the cluster is still electing its meta leader
                return True

            await eventually(streams_created, "streams with three copies", 30)
            info = await admin.jetstream().stream_info("INTAKE")
            assert info.config.num_replicas == 3
            assert info.cluster is not None and info.cluster.leader is not None
            timings["cluster and streams"] = time.monotonic() - started

            token = LocalIssuer.load(data_dir / "keys").mint(
                user=OPERATOR, agency=AGENCY, roles=["hotline_operator"]
            )
            ports = Ports()
            urls = []
            # One database for both instances, of this test's own.
            database = (pg_server_url, f"cluster{os.getpid()}_{int(time.time()) % 100000}_")
            for name, first in (("a", 1), ("b", 2)):
                port = ports()
                # Each instance prefers its own node; both know all three.
                order = [cluster.nodes[first].url] + [
                    u for u in cluster.urls if u != cluster.nodes[first].url
                ]
                process = intake_instance(
                    name, port, data_dir, order, database, passwords["intake"]
                )
                instances.append(process)
                urls.append(f"http://127.0.0.1:{port}")
                # The first creates the database and its tables; the second finds them.
                await wait_healthy(urls[-1], process, data_dir / f"intake-{name}.log")
            timings["two instances healthy"] = time.monotonic() - started

            victim = int(info.cluster.leader.removeprefix("nats-"))
            moments: dict[str, float] = {}

            restarting: list[asyncio.Task[None]] = []

            async def restart() -> None:
                await asyncio.sleep(DOWN_S)
                cluster.start(victim)  # same store directory, same configuration
                moments["restarted"] = time.monotonic()

            def kill() -> None:
                cluster.nodes[victim].stop(kill=True)  # SIGKILL the INTAKE stream's leader
                moments["killed"] = time.monotonic()
                restarting.append(asyncio.create_task(restart()))

            keys = [f"cluster-{i}" for i in range(REPORTS)]
            errors: list[str] = []
            sending = time.monotonic()
            refusals: Counter[str] = Counter()
            refused_at: list[float] = []
            answers = await register(
                urls, token, keys, {REPORTS // 4: kill}, errors, refusals, refused_at
            )
            await asyncio.gather(*restarting)
            timings[f"{REPORTS} registrations"] = time.monotonic() - sending
            first = Counter(answers.values())
            assert "killed" in moments and "restarted" in moments
            assert set(first) <= {0, 201, 202, 503, 504}, first  # never a 500
            ok_first = {k for k, status in answers.items() if status in (201, 202)}

            rounds = await retry_refused(urls, token, answers)
            assert set(answers.values()) <= {201, 202}, Counter(answers.values())

            async def rejoined() -> bool:
                try:
                    cluster_info = (await admin.jetstream().stream_info("INTAKE")).cluster
                except Exception:
                    return False
                if cluster_info is None or cluster_info.leader is None:
                    return False
                others = {r.name: r for r in cluster_info.replicas or []}
                return len(others) == 2 and all(r.current and not r.lag for r in others.values())

            await eventually(rejoined, "the restarted node caught up", 30)
            timings["node back and current"] = time.monotonic() - moments["restarted"]

            # Read from the restarted node itself, once it is current.
            async with await nats.connect(
                cluster.nodes[victim].url, user=ADMIN, password=passwords[ADMIN]
            ) as reader:
                stored = await subjects(reader, "intake.*.report.*.ReportRegistered")
                for key in keys:
                    assert stored[report_of(key)] == 1, (key, answers[key], stored[report_of(key)])
                assert sum(stored.values()) == REPORTS  # nothing stored that nobody asked for

                # The child recorder (both instances run it) records each report's child once.
                async def every_child_recorded() -> bool:
                    return (
                        sum((await subjects(reader, "intake.*.child.*.ChildRecorded")).values())
                        >= REPORTS
                    )

                await eventually(every_child_recorded, "a child record per report", 30)
                recorded = await subjects(reader, "intake.*.child.*.ChildRecorded")
                assert len(recorded) == REPORTS and set(recorded.values()) == {1}, Counter(
                    recorded.values()
                )

            # relais audit verify, given the three nodes as the services are: chains,
            # signatures, no gaps, and every stream on three copies.
            checking = time.monotonic()
            audit = await verify_log(
                ",".join(cluster.urls),
                ["INTAKE", "AUDIT"],
                user=ADMIN,
                password=passwords[ADMIN],
                replicas=3,
            )
            assert audit.ok, audit.as_dict()
            timings["audit verify"] = time.monotonic() - checking
        finally:
            await admin.close()
    finally:
        cluster.stop()
    timings["total"] = time.monotonic() - started
    print(
        f"\nfirst answers {dict(first)}; 503s {dict(refusals)}; 2xx at once {len(ok_first)}; "
        f"retry rounds {rounds}; "
        f"transport errors {len(errors)}; node nats-{victim} down "
        f"{moments['restarted'] - moments['killed']:.1f} s; 503s answered from "
        f"{min(refused_at, default=0) - moments['killed']:.1f} s to "
        f"{max(refused_at, default=0) - moments['killed']:.1f} s after the kill"
    )
    print(" ".join(f"{k}: {v:.1f}s" for k, v in timings.items()))
