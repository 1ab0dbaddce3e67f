"""The event store on a real nats-server 2.14: what only the real log can show (the shared
contract both stores pass is in ``test_store_contract.py``)."""

from __future__ import annotations

import asyncio
import json

import nats
import pytest
from nats.aio.client import Client as NATS
from nats.js.api import StorageType, StreamConfig
from nats.js.errors import APIError

from shared.envelope import Actor, Aggregate, canonical_json, sha256_hex
from shared.nats_store import NatsEventStore
from shared.signing import SigningKey
from shared.streams import StreamMisconfigured, ensure_streams
from tests.lab import CounterMoved, CounterOpened

pytestmark = pytest.mark.connected

ACTOR = Actor(user="u-1", agency="ocpm", role="case_worker")


@pytest.fixture
async def store(nc: NATS) -> NatsEventStore:
    await ensure_streams(nc.jetstream(), "hq", contexts=("lab", "audit"))
    return NatsEventStore(
        nc,
        key=SigningKey.generate(),
        source="/relais/hq/lab/1",
        site="hq",
        writable_contexts=("lab",),
    )


def counter(name: str = "c1") -> Aggregate:
    return Aggregate("lab", "hq", "counter", name)


async def test_concurrent_retries_of_one_batch_store_it_once(nats_url: str) -> None:
    # Two instances sending the same command at once (a client retry racing the first try,
    # two policy loops) derive the same event ids; one stores, the other sees its twin.
    connections = [await nats.connect(nats_url) for _ in range(2)]
    try:
        await ensure_streams(connections[0].jetstream(), "hq", contexts=("lab", "audit"))
        stores = [
            NatsEventStore(
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


async def test_server_refuses_to_delete_or_purge_events(store: NatsEventStore) -> None:
    agg = counter()
    result = await store.append(agg, 0, [CounterOpened(label="x")], actor=ACTOR)
    with pytest.raises(APIError) as deleting:
        await store.js.delete_msg("LAB", result.head.seq)
    assert deleting.value.err_code == 10057
    with pytest.raises(APIError) as purging:
        await store.js.purge_stream("LAB")
    assert purging.value.err_code == 10110
    assert len(await store.load(agg)) == 1


async def test_v1_event_is_read_back_as_v2_through_its_upcaster(store: NatsEventStore) -> None:
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


async def test_an_aggregate_still_being_stored_is_asked_again_not_a_conflict(
    store: NatsEventStore,
) -> None:
    # A replicated stream answers 10164 while the aggregate's previous message is still being
    # stored; the next ask stores the append (one server here: the answer is simulated once).
    real = store.requests.request
    answered: list[bytes] = []

    async def once_in_process(subject: str, payload: bytes, **kwargs: object) -> object:
        if not answered:
            busy = b'{"error":{"code":400,"err_code":10164,"description":"wrong last sequence"}}'
            answered.append(busy)
            return type("Answer", (), {"data": busy, "headers": None})()
        return await real(subject, payload, **kwargs)  # type: ignore[arg-type]

    store.requests.request = once_in_process  # type: ignore[method-assign]
    agg = counter("busy")
    result = await store.append(agg, 0, [CounterOpened(label="x")], actor=ACTOR)
    assert answered and not result.duplicate
    assert [e.seq for e in await store.load(agg)] == [result.head.seq]
