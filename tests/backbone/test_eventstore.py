"""The event store against a real nats-server 2.14."""

from __future__ import annotations

import asyncio
import itertools
import json

import nats
import pytest
from nats.aio.client import Client as NATS
from nats.js.api import StorageType, StreamConfig
from nats.js.errors import APIError

from shared.envelope import GENESIS, Actor, Aggregate, canonical_json, jcs, sha256_hex
from shared.eventstore import ConcurrencyConflict, EventStore, IdempotencyKeyReused, NotOwner
from shared.signing import Keyring, SigningKey
from shared.streams import StreamMisconfigured, ensure_streams
from tests.lab import CounterMoved, CounterOpened

ACTOR = Actor(user="u-1", agency="ocpm", role="case_worker")


@pytest.fixture
async def store(nc: NATS) -> EventStore:
    await ensure_streams(nc.jetstream(), "hq", contexts=("lab", "audit"))
    return EventStore(
        nc,
        key=SigningKey.generate(),
        source="/relais/hq/lab/1",
        site="hq",
        writable_contexts=("lab",),
    )


def counter(name: str = "c1") -> Aggregate:
    return Aggregate("lab", "hq", "counter", name)


async def test_append_then_load_returns_events_in_order_with_chain(store: EventStore) -> None:
    agg = counter()
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
    # CloudEvents attributes an integrator's tooling expects
    env = loaded[1].envelope
    assert env["specversion"] == "1.0" and env["type"] == "org.relais.lab.CounterMoved.v2"
    assert env["subject"] == "c1" and env["datacontenttype"] == "application/json"
    assert env["actor"] == "u-1" and env["actoragency"] == "ocpm"
    assert loaded[1].raw == jcs(env) and env["canonicalization"] == "rfc8785"


async def test_load_reads_long_histories_across_batches(store: EventStore) -> None:
    agg = counter("long")
    head = (await store.append(agg, 0, [CounterOpened(label="x")], actor=ACTOR)).head
    for _ in range(6):
        head = (
            await store.append(
                agg, head.seq, [CounterMoved(amount=1, unit="u") for _ in range(100)], actor=ACTOR
            )
        ).head
    loaded = await store.load(agg)
    assert len(loaded) == 601
    assert [e.aggregate_version for e in loaded] == list(range(1, 602))
    assert len(await store.load(agg, after=loaded[499].seq)) == 101


async def test_two_writers_with_the_same_expected_version_one_wins(store: EventStore) -> None:
    agg = counter()
    head = (await store.append(agg, 0, [CounterOpened(label="x")], actor=ACTOR)).head
    results = await asyncio.gather(
        store.append(agg, head.seq, [CounterMoved(amount=1, unit="u")], actor=ACTOR),
        store.append(agg, head.seq, [CounterMoved(amount=2, unit="u")], actor=ACTOR),
        return_exceptions=True,
    )
    conflicts = [r for r in results if isinstance(r, ConcurrencyConflict)]
    assert len(conflicts) == 1
    assert conflicts[0].expected == head.seq and conflicts[0].actual > head.seq
    assert len(await store.load(agg)) == 2


async def test_new_aggregate_can_be_created_only_once(store: EventStore) -> None:
    agg = counter()
    await store.append(agg, 0, [CounterOpened(label="x")], actor=ACTOR)
    with pytest.raises(ConcurrencyConflict):
        await store.append(agg, 0, [CounterOpened(label="again")], actor=ACTOR)


async def test_atomic_batch_is_all_or_nothing(store: EventStore) -> None:
    agg = counter()
    head = (await store.append(agg, 0, [CounterOpened(label="x")], actor=ACTOR)).head
    await store.append(agg, head.seq, [CounterMoved(amount=1, unit="u")], actor=ACTOR)
    with pytest.raises(ConcurrencyConflict):  # stale: written after head
        await store.append(
            agg, head.seq, [CounterMoved(amount=5, unit="u") for _ in range(3)], actor=ACTOR
        )
    assert [e.event for e in await store.load(agg)][1:] == [CounterMoved(amount=1, unit="u")]
    info = await store.js.stream_info("LAB")
    assert info.state.messages == 2


async def test_retried_command_stores_its_events_once(store: EventStore) -> None:
    agg = counter()
    head = (await store.append(agg, 0, [CounterOpened(label="x")], actor=ACTOR)).head
    first = await store.append(
        agg, head.seq, [CounterMoved(amount=1, unit="u")], actor=ACTOR, idempotency_key="k-1"
    )
    again = await store.append(
        agg, head.seq, [CounterMoved(amount=1, unit="u")], actor=ACTOR, idempotency_key="k-1"
    )
    assert again.duplicate and [e.id for e in again.events] == [e.id for e in first.events]
    batch = [CounterMoved(amount=2, unit="u"), CounterMoved(amount=3, unit="u")]
    b1 = await store.append(agg, first.head.seq, batch, actor=ACTOR, idempotency_key="k-2")
    b2 = await store.append(agg, first.head.seq, batch, actor=ACTOR, idempotency_key="k-2")
    assert b2.duplicate and [e.seq for e in b2.events] == [e.seq for e in b1.events]
    assert len(await store.load(agg)) == 4
    # The same key on a different aggregate is a different command.
    await store.append(
        counter("c2"), 0, [CounterOpened(label="y")], actor=ACTOR, idempotency_key="k-1"
    )


async def test_concurrent_retries_of_one_batch_store_it_once(nats_url: str) -> None:
    # Two instances sending the same command at once (a client retry racing the first try,
    # two policy loops) derive the same event ids; one stores, the other sees its twin.
    connections = [await nats.connect(nats_url) for _ in range(2)]
    try:
        await ensure_streams(connections[0].jetstream(), "hq", contexts=("lab", "audit"))
        stores = [
            EventStore(
                nc,
                key=SigningKey.generate(),
                source=f"/relais/hq/lab/{i}",
                site="hq",
                writable_contexts=("lab",),
            )
            for i, nc in enumerate(connections)
        ]
        for round_ in range(200):
            agg = counter(f"race-{round_}")
            batch = [CounterOpened(label="x"), CounterMoved(amount=1, unit="u")]
            results = await asyncio.gather(
                *(s.append(agg, 0, batch, actor=ACTOR, idempotency_key="same") for s in stores)
            )
            assert sorted(r.duplicate for r in results) == [False, True]
            assert len(await stores[0].load(agg)) == 2
    finally:
        for nc in connections:
            await nc.close()


async def test_a_key_reused_for_another_command_is_refused_not_taken_as_stored(
    store: EventStore,
) -> None:
    agg = counter("reuse")
    head = (await store.append(agg, 0, [CounterOpened(label="x")], actor=ACTOR)).head
    first = await store.append(
        agg, head.seq, [CounterMoved(amount=1, unit="u")], actor=ACTOR, idempotency_key="k"
    )
    # A retry that reloaded the aggregate after the first attempt succeeded: its twin is found.
    again = await store.append(
        agg, first.head.seq, [CounterMoved(amount=1, unit="u")], actor=ACTOR, idempotency_key="k"
    )
    assert again.duplicate and again.events[0].seq == first.events[0].seq
    pair = [CounterMoved(amount=2, unit="u"), CounterMoved(amount=3, unit="u")]
    batch = await store.append(agg, again.head.seq, pair, actor=ACTOR, idempotency_key="b")
    batch_again = await store.append(agg, batch.head.seq, pair, actor=ACTOR, idempotency_key="b")
    assert batch_again.duplicate
    assert [e.seq for e in batch_again.events] == [e.seq for e in batch.events]
    # The same key for another kind of command: refused, nothing pretended.
    with pytest.raises(IdempotencyKeyReused):
        await store.append(
            agg, batch.head.seq, [CounterOpened(label="y")], actor=ACTOR, idempotency_key="k"
        )
    assert len(await store.load(agg)) == 4


async def test_retry_with_a_different_key_after_success_is_a_conflict(store: EventStore) -> None:
    agg = counter()
    head = (await store.append(agg, 0, [CounterOpened(label="x")], actor=ACTOR)).head
    await store.append(
        agg, head.seq, [CounterMoved(amount=1, unit="u")], actor=ACTOR, idempotency_key="a"
    )
    with pytest.raises(ConcurrencyConflict):
        await store.append(
            agg, head.seq, [CounterMoved(amount=1, unit="u")], actor=ACTOR, idempotency_key="b"
        )


async def test_writes_outside_the_owned_context_or_site_are_refused(store: EventStore) -> None:
    with pytest.raises(NotOwner):
        await store.append(
            Aggregate("lab", "parakou", "counter", "x"), 0, [CounterOpened(label="x")], actor=ACTOR
        )
    with pytest.raises(NotOwner):
        await store.append(
            Aggregate("audit", "hq", "counter", "x"), 0, [CounterOpened(label="x")], actor=ACTOR
        )


async def test_server_refuses_to_delete_or_purge_events(store: EventStore) -> None:
    agg = counter()
    result = await store.append(agg, 0, [CounterOpened(label="x")], actor=ACTOR)
    with pytest.raises(APIError) as deleting:
        await store.js.delete_msg("LAB", result.head.seq)
    assert deleting.value.err_code == 10057
    with pytest.raises(APIError) as purging:
        await store.js.purge_stream("LAB")
    assert purging.value.err_code == 10110
    assert len(await store.load(agg)) == 1


async def test_v1_event_is_read_back_as_v2_through_its_upcaster(store: EventStore) -> None:
    agg = counter()
    await store.append(agg, 0, [CounterOpened(label="x")], actor=ACTOR)
    v1 = dict(head_envelope := (await store.load(agg))[0].envelope)
    v1.update(
        id="old-1",
        type="org.relais.lab.CounterMoved.v1",
        data={"by": 4},
        aggregateversion=2,
        prevhash=sha256_hex((await store.load(agg))[0].raw),
    )
    del v1["signature"]
    v1["signature"] = store.key.sign(v1)
    assert head_envelope["type"].endswith("CounterOpened.v1")
    await store.js.publish(agg.subject("CounterMoved"), canonical_json(v1))
    events = await store.load(agg)
    assert events[1].event == CounterMoved(amount=4, unit="step")
    assert json.loads(events[1].raw)["data"] == {"by": 4}  # stored bytes are never rewritten


async def test_existing_stream_is_brought_up_to_its_guarantees(bare_nc: NATS) -> None:
    js = bare_nc.jetstream()
    await js.add_stream(StreamConfig(name="LAB", subjects=["lab.hq.>"], storage=StorageType.FILE))
    await ensure_streams(js, "hq", contexts=("lab",))
    cfg = (await js.stream_info("LAB")).config
    assert cfg.deny_delete and cfg.deny_purge and cfg.allow_atomic and cfg.allow_direct


async def test_stream_in_memory_is_refused(bare_nc: NATS) -> None:
    js = bare_nc.jetstream()
    await js.add_stream(StreamConfig(name="LAB", subjects=["lab.hq.>"], storage=StorageType.MEMORY))
    with pytest.raises(StreamMisconfigured):
        await ensure_streams(js, "hq", contexts=("lab",))
