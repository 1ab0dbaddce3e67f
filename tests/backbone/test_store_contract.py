"""The event store's contract: one suite, run against the real log (NATS JetStream, a fresh
nats-server 2.14) and against the in-memory stand-in the fast tests use. Whatever a command,
an inbox handler or a sweep relies on is checked here on both, so a fast test on the
in-memory store means the same on the real one."""

from __future__ import annotations

import asyncio
import itertools

import nats
import pytest

from shared.envelope import GENESIS, Actor, Aggregate, jcs, sha256_hex
from shared.eventstore import (
    ConcurrencyConflict,
    EventStore,
    IdempotencyKeyReused,
    NotOwner,
)
from shared.memory_store import MemoryEventStore
from shared.nats_store import NatsEventStore
from shared.sealing_store import SealingStore
from shared.signing import Keyring, SigningKey
from tests.conftest import fresh_nats_url, with_streams
from tests.lab import CounterMoved, CounterOpened

ACTOR = Actor(user="u-1", agency="ocpm", role="case_worker")
KINDS = [
    pytest.param("memory", marks=pytest.mark.app),
    pytest.param("nats", marks=pytest.mark.connected),
]


class Log:
    """The store under test, and a way to get a second writer on the same log."""

    def __init__(self, store: SealingStore, nats_url: str | None) -> None:
        self.store = store
        self.nats_url = nats_url
        self.connections: list[nats.aio.client.Client] = []

    async def twin(self) -> SealingStore:
        if isinstance(self.store, MemoryEventStore):
            return self.store.twin(key=SigningKey.generate(), source="/relais/hq/lab/2")
        assert self.nats_url is not None
        nc = await nats.connect(self.nats_url)
        self.connections.append(nc)
        return NatsEventStore(
            nc,
            key=SigningKey.generate(),
            source="/relais/hq/lab/2",
            site="hq",
            writable_contexts=("lab",),
        )

    async def stored(self, stream: str) -> int:
        """How many messages the stream holds."""
        return len(await self.store.read_raw(stream, ">"))


@pytest.fixture(params=KINDS)
async def log(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    if request.param == "memory":
        yield Log(MemoryEventStore(source="/relais/hq/lab/1", writable_contexts=("lab",)), None)
        return
    nats_url = await with_streams(await fresh_nats_url(request.getfixturevalue("nats_server")))
    nc = await nats.connect(nats_url)
    store = NatsEventStore(
        nc,
        key=SigningKey.generate(),
        source="/relais/hq/lab/1",
        site="hq",
        writable_contexts=("lab",),
    )
    log = Log(store, nats_url)
    yield log
    for other in log.connections:
        await other.close()
    await nc.close()


def counter(name: str = "c1") -> Aggregate:
    return Aggregate("lab", "hq", "counter", name)


@pytest.mark.app
def test_both_implementations_are_the_port() -> None:
    def port(store: EventStore) -> EventStore:
        return store

    assert port(MemoryEventStore(writable_contexts=("lab",))) is not None


async def test_load_by_aggregate_returns_its_events_in_order_chained_and_signed(
    log: Log,
) -> None:
    store, agg = log.store, counter()
    first = await store.append(agg, 0, [CounterOpened(label="x")], actor=ACTOR)
    second = await store.append(
        agg,
        first.head.seq,
        [CounterMoved(amount=2, unit="u"), CounterMoved(amount=3, unit="u")],
        actor=ACTOR,
    )
    await store.append(counter("other"), 0, [CounterOpened(label="y")], actor=ACTOR)

    loaded = await store.load(agg)
    assert [type(e.event).__name__ for e in loaded] == [
        "CounterOpened",
        "CounterMoved",
        "CounterMoved",
    ]
    assert [e.aggregate_version for e in loaded] == [1, 2, 3]
    assert [e.seq for e in loaded] == [first.events[0].seq, *[e.seq for e in second.events]]
    assert loaded[0].envelope["prevhash"] == GENESIS
    for prev, nxt in itertools.pairwise(loaded):
        assert nxt.envelope["prevhash"] == sha256_hex(prev.raw)
    keyring = Keyring()
    keyring.add(store.key.public_raw)
    assert all(keyring.verify(e.envelope) is None for e in loaded)
    env = loaded[1].envelope
    assert env["specversion"] == "1.0" and env["type"] == "org.relais.lab.CounterMoved.v2"
    assert env["subject"] == "c1" and env["actor"] == "u-1" and env["actoragency"] == "ocpm"
    assert loaded[1].raw == jcs(env) and env["canonicalization"] == "rfc8785"
    assert len(await store.load(agg, after=loaded[0].seq)) == 2


async def test_the_stream_keeps_one_order_across_aggregates(log: Log) -> None:
    store = log.store
    seqs = []
    for name in ("a", "b", "a2", "b2"):
        result = await store.append(counter(name), 0, [CounterOpened(label=name)], actor=ACTOR)
        seqs.append(result.head.seq)
    assert seqs == sorted(seqs) and len(set(seqs)) == 4
    stored = await store.read_raw("LAB", "lab.hq.counter.*.*")
    assert [m.seq for m in stored] == seqs
    assert [m.subject.split(".")[3] for m in stored] == ["a", "b", "a2", "b2"]


async def test_long_histories_are_loaded_whole(log: Log) -> None:
    store, agg = log.store, counter("long")
    head = (await store.append(agg, 0, [CounterOpened(label="x")], actor=ACTOR)).head
    for _ in range(3):
        moves = [CounterMoved(amount=1, unit="u") for _ in range(100)]
        head = (await store.append(agg, head.seq, moves, actor=ACTOR)).head
    loaded = await store.load(agg)
    assert [e.aggregate_version for e in loaded] == list(range(1, 302))


async def test_two_writers_with_the_same_expected_version_one_wins(log: Log) -> None:
    store, agg = log.store, counter()
    other = await log.twin()
    head = (await store.append(agg, 0, [CounterOpened(label="x")], actor=ACTOR)).head
    results = await asyncio.gather(
        store.append(agg, head.seq, [CounterMoved(amount=1, unit="u")], actor=ACTOR),
        other.append(agg, head.seq, [CounterMoved(amount=2, unit="u")], actor=ACTOR),
        return_exceptions=True,
    )
    conflicts = [r for r in results if isinstance(r, ConcurrencyConflict)]
    assert len(conflicts) == 1
    assert conflicts[0].expected == head.seq and conflicts[0].actual > head.seq
    assert len(await store.load(agg)) == 2


async def test_a_new_aggregate_is_created_only_once(log: Log) -> None:
    store, agg = log.store, counter()
    await store.append(agg, 0, [CounterOpened(label="x")], actor=ACTOR)
    with pytest.raises(ConcurrencyConflict) as conflict:
        await store.append(agg, 0, [CounterOpened(label="again")], actor=ACTOR)
    assert conflict.value.expected == 0 and conflict.value.actual > 0


async def test_a_batch_is_stored_all_or_nothing(log: Log) -> None:
    store, agg = log.store, counter()
    head = (await store.append(agg, 0, [CounterOpened(label="x")], actor=ACTOR)).head
    await store.append(agg, head.seq, [CounterMoved(amount=1, unit="u")], actor=ACTOR)
    with pytest.raises(ConcurrencyConflict):  # stale: written after head
        await store.append(
            agg, head.seq, [CounterMoved(amount=5, unit="u") for _ in range(3)], actor=ACTOR
        )
    assert [e.event for e in await store.load(agg)][1:] == [CounterMoved(amount=1, unit="u")]
    assert await log.stored("LAB") == 2


async def test_a_retried_command_stores_its_events_once(log: Log) -> None:
    store, agg = log.store, counter()
    head = (await store.append(agg, 0, [CounterOpened(label="x")], actor=ACTOR)).head
    move = [CounterMoved(amount=1, unit="u")]
    first = await store.append(agg, head.seq, move, actor=ACTOR, idempotency_key="k-1")
    again = await store.append(agg, head.seq, move, actor=ACTOR, idempotency_key="k-1")
    assert again.duplicate and [e.id for e in again.events] == [e.id for e in first.events]
    batch = [CounterMoved(amount=2, unit="u"), CounterMoved(amount=3, unit="u")]
    b1 = await store.append(agg, first.head.seq, batch, actor=ACTOR, idempotency_key="k-2")
    b2 = await store.append(agg, first.head.seq, batch, actor=ACTOR, idempotency_key="k-2")
    assert b2.duplicate and [e.seq for e in b2.events] == [e.seq for e in b1.events]
    # A retry that reloaded the aggregate after its first attempt succeeded finds its twin.
    b3 = await store.append(agg, b1.head.seq, batch, actor=ACTOR, idempotency_key="k-2")
    assert b3.duplicate and [e.seq for e in b3.events] == [e.seq for e in b1.events]
    assert len(await store.load(agg)) == 4
    # The same key on a different aggregate is a different command.
    other = await store.append(
        counter("c2"), 0, [CounterOpened(label="y")], actor=ACTOR, idempotency_key="k-1"
    )
    assert not other.duplicate


async def test_concurrent_retries_of_one_batch_store_it_once(log: Log) -> None:
    stores = [log.store, await log.twin()]
    for round_ in range(20):
        agg = counter(f"race-{round_}")
        batch = [CounterOpened(label="x"), CounterMoved(amount=1, unit="u")]
        results = await asyncio.gather(
            *(s.append(agg, 0, batch, actor=ACTOR, idempotency_key="same") for s in stores)
        )
        assert sorted(r.duplicate for r in results) == [False, True]
        assert len(await stores[0].load(agg)) == 2


async def test_a_key_reused_for_another_command_is_refused_not_taken_as_stored(
    log: Log,
) -> None:
    store, agg = log.store, counter("reuse")
    head = (await store.append(agg, 0, [CounterOpened(label="x")], actor=ACTOR)).head
    first = await store.append(
        agg, head.seq, [CounterMoved(amount=1, unit="u")], actor=ACTOR, idempotency_key="k"
    )
    with pytest.raises(IdempotencyKeyReused):
        await store.append(
            agg, first.head.seq, [CounterOpened(label="y")], actor=ACTOR, idempotency_key="k"
        )
    assert len(await store.load(agg)) == 2


async def test_a_retry_with_another_key_after_success_is_a_conflict(log: Log) -> None:
    store, agg = log.store, counter()
    head = (await store.append(agg, 0, [CounterOpened(label="x")], actor=ACTOR)).head
    move = [CounterMoved(amount=1, unit="u")]
    await store.append(agg, head.seq, move, actor=ACTOR, idempotency_key="a")
    with pytest.raises(ConcurrencyConflict):
        await store.append(agg, head.seq, move, actor=ACTOR, idempotency_key="b")


async def test_writes_outside_the_owned_context_or_site_are_refused(log: Log) -> None:
    store = log.store
    with pytest.raises(NotOwner):
        await store.append(
            Aggregate("lab", "parakou", "counter", "x"), 0, [CounterOpened(label="x")], actor=ACTOR
        )
    with pytest.raises(NotOwner):
        await store.append(
            Aggregate("audit", "hq", "counter", "x"), 0, [CounterOpened(label="x")], actor=ACTOR
        )
    assert await log.stored("LAB") == 0
