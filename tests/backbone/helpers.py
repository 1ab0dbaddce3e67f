"""Shared pieces of the backbone tests."""

from __future__ import annotations

import random

from nats.aio.client import Client as NATS

from shared.envelope import Actor, Aggregate
from shared.eventstore import EventStore
from shared.nats_store import NatsEventStore
from shared.signing import SigningKey
from shared.streams import ensure_streams
from tests.lab import CounterMoved, CounterOpened

ACTOR = Actor(user="u-1", agency="ocpm", role="case_worker")


async def lab_store(nc: NATS) -> EventStore:
    await ensure_streams(nc.jetstream(), "hq", contexts=("lab", "audit"))
    return NatsEventStore(
        nc,
        key=SigningKey.generate(),
        source="/relais/hq/lab/1",
        site="hq",
        writable_contexts=("lab", "audit"),
    )


async def write_counters(
    store: EventStore, counters: int, moves: int, seed: int = 7, prefix: str = "c"
) -> int:
    """Write ``counters`` counters with ``moves`` moves each, interleaved; returns last seq."""
    rng = random.Random(seed)
    heads = {}
    for i in range(counters):
        agg = Aggregate("lab", "hq", "counter", f"{prefix}{i:03d}")
        heads[agg] = (await store.append(agg, 0, [CounterOpened(label=f"n{i}")], actor=ACTOR)).head
    last = 0
    for _ in range(moves):
        for agg in list(heads):
            batch = [
                CounterMoved(amount=rng.randint(-5, 9), unit="u") for _ in range(rng.randint(1, 3))
            ]
            result = await store.append(agg, heads[agg].seq, batch, actor=ACTOR)
            heads[agg] = result.head
            last = result.head.seq
    return last


class ClosedUnderneath:
    """uvloop's transport once the server died, before nats-py noticed: every write is
    refused before anything is written (the standard loop's would drop it silently)."""

    def writelines(self, data: object) -> None:
        raise RuntimeError("unable to perform operation on <TCPTransport>; the handler is closed")
