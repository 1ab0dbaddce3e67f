"""Batch projection (decision 0027): a handler that takes a run of consecutive events at once
(statements built once, rows written with executemany) gives the same read model as the
per-event handlers, in the same transaction as the checkpoint; a poison event in a run sends
the run back one event at a time, and only that event goes to the dead letters."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Sequence

import pytest
from nats.aio.client import Client as NATS
from sqlalchemy import bindparam, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.config import with_database
from shared.db import checkpoints, dead_letters, ensure_database, make_engine
from shared.envelope import Aggregate
from shared.projection import Projection, StreamProjector
from shared.projection_schema import prepare
from shared.pull import Pulled, Puller
from shared.recorded import RecordedEvent
from tests import lab
from tests.backbone.helpers import ACTOR, lab_store, write_counters

pytestmark = pytest.mark.connected

batched = Projection(name="lab.totals_batched", version=1, metadata=lab.metadata)
RUNS: list[int] = []  # the length of every run the batch handler was given

_open = insert(lab.totals)
_move = (
    lab.totals.update()
    .where(lab.totals.c.counter == bindparam("c"))
    .values(
        total=lab.totals.c.total + bindparam("amount"),
        events=lab.totals.c.events + bindparam("n"),
        last_seq=bindparam("seq"),
    )
)


@batched.on_batch("lab", "CounterOpened", "CounterMoved", "CounterBroken")
async def _counters(conn: AsyncConnection, events: Sequence[RecordedEvent]) -> None:
    RUNS.append(len(events))
    if any(isinstance(e.event, lab.CounterBroken) for e in events):
        raise RuntimeError("this handler refuses a broken counter")
    # In stream order, each stretch of one event type in one statement: openings inserted
    # together, moves summed per counter (the effect of applying them one by one).
    i = 0
    while i < len(events):
        kind = type(events[i].event)
        j = i
        while j < len(events) and type(events[j].event) is kind:
            j += 1
        stretch = events[i:j]
        if kind is lab.CounterOpened:
            rows = [
                {
                    "counter": e.aggregate.id,
                    "label": e.event.label,  # type: ignore[attr-defined]
                    "total": 0,
                    "events": 1,
                    "last_seq": e.seq,
                }
                for e in stretch
            ]
            await conn.execute(_open, rows)
        else:
            sums: dict[str, dict[str, object]] = {}
            for e in stretch:
                assert isinstance(e.event, lab.CounterMoved)
                row = sums.setdefault(e.aggregate.id, {"c": e.aggregate.id, "amount": 0, "n": 0})
                row["amount"] = int(str(row["amount"])) + e.event.amount
                row["n"] = int(str(row["n"])) + 1
                row["seq"] = e.seq
            await conn.execute(_move, list(sums.values()))
        i = j


async def fresh_engine(pg_server_url: str) -> AsyncEngine:
    url = with_database(pg_server_url, f"t_{uuid.uuid4().hex[:16]}")
    await ensure_database(url)
    return make_engine(url, pool_size=3)


Replayed = tuple[list[tuple[object, ...]], list[tuple[object, ...]], int]


async def clean_replay(pg_server_url: str, nc: NATS, until: int) -> Replayed:
    """The lab read model replayed into a database of its own: what a run must equal."""
    other = await fresh_engine(pg_server_url)
    try:
        return await replay(lab.projection, other, nc, until)
    finally:
        await other.dispose()


async def replay(projection: Projection, engine: AsyncEngine, nc: NATS, until: int) -> Replayed:
    """The rows, the dead letters (seq, error) and the checkpoint after a replay."""
    await prepare(engine, projection)
    projector = StreamProjector(projection, "LAB", engine, nc.jetstream(), batch_size=50)
    await asyncio.wait_for(projector.run(until_seq=until), 60)
    async with engine.connect() as conn:
        letters = await conn.execute(
            select(dead_letters.c.seq, dead_letters.c.error).order_by(dead_letters.c.seq)
        )
        checkpoint = await conn.execute(
            select(func.max(checkpoints.c.last_seq)).where(
                checkpoints.c.projector == projection.name
            )
        )
        return await lab.snapshot(conn), [tuple(r) for r in letters], int(checkpoint.scalar() or 0)


async def test_batches_give_the_per_event_read_model(
    engine: AsyncEngine, nc: NATS, pg_server_url: str
) -> None:
    store = await lab_store(nc)
    last = await write_counters(store, counters=12, moves=15)
    RUNS.clear()
    rows, letters, checkpoint = await replay(batched, engine, nc, last)
    expected, expected_letters, expected_checkpoint = await clean_replay(pg_server_url, nc, last)
    assert len(rows) == 12
    assert rows == expected
    assert letters == expected_letters == []
    assert checkpoint == expected_checkpoint == last
    # Whole fetched batches went to the handler at once, not one event at a time.
    assert sum(RUNS) == last and max(RUNS) == 50 and len(RUNS) < last / 10


async def test_a_poison_event_in_a_run_goes_alone_to_the_dead_letters(
    engine: AsyncEngine, nc: NATS, pg_server_url: str
) -> None:
    store = await lab_store(nc)
    await write_counters(store, counters=3, moves=4)
    broken = await store.append(
        Aggregate("lab", "hq", "counter", "broken"),
        0,
        [lab.CounterBroken(reason="r")],
        actor=ACTOR,
    )
    last = await write_counters(store, counters=3, moves=4, prefix="d")
    RUNS.clear()
    rows, letters, checkpoint = await replay(batched, engine, nc, last)
    expected, expected_letters, _ = await clean_replay(pg_server_url, nc, last)
    assert len(rows) == 6 and rows == expected
    assert [seq for seq, _ in letters] == [seq for seq, _ in expected_letters]
    assert [seq for seq, _ in letters] == [broken.head.seq]
    assert "RuntimeError" in str(letters[0][1])
    assert checkpoint == last
    assert 1 in RUNS  # the failing run was applied again one event at a time


class _Stalling(StreamProjector):
    """Every third fetch times out before anything arrives, as when a busy service holds the
    event loop past the deadline of the batch fetched ahead."""

    fetches = 0

    async def _fetch(self, puller: Puller, batch: int, timeout: float) -> Pulled:
        self.fetches += 1
        if self.fetches % 3 == 0:
            raise TimeoutError
        return await super()._fetch(puller, batch, timeout)


async def test_a_prefetched_batch_that_times_out_loses_nothing(
    engine: AsyncEngine, nc: NATS, pg_server_url: str
) -> None:
    store = await lab_store(nc)
    last = await write_counters(store, counters=12, moves=15)
    await prepare(engine, lab.projection)
    projector = _Stalling(lab.projection, "LAB", engine, nc.jetstream(), batch_size=25)
    await asyncio.wait_for(projector.run(until_seq=last), 30)
    expected, _, _ = await clean_replay(pg_server_url, nc, last)
    async with engine.connect() as conn:
        assert await lab.snapshot(conn) == expected
    assert projector.checkpoint == last and projector.dead_letter_count == 0
    assert projector.fetches > 6  # batches were fetched ahead, and some of those timed out


async def test_a_lingering_projector_gathers_a_steady_flow_and_answers_a_waiter_at_once(
    engine: AsyncEngine, nc: NATS, pg_server_url: str
) -> None:
    store = await lab_store(nc)
    await prepare(engine, batched)
    projector = StreamProjector(batched, "LAB", engine, nc.jetstream(), linger_s=0.3)
    running = asyncio.create_task(projector.run())
    agg = Aggregate("lab", "hq", "counter", "steady")
    try:
        head = (await store.append(agg, 0, [lab.CounterOpened(label="s")], actor=ACTOR)).head
        assert await projector.wait_for(head.seq, 10)
        RUNS.clear()
        # A steady flow nobody waits for, one event every 20 ms: gathered, not one by one.
        for i in range(30):
            move = [lab.CounterMoved(amount=i, unit="u")]
            head = (await store.append(agg, head.seq, move, actor=ACTOR)).head
            await asyncio.sleep(0.02)
        assert await projector.wait_for(head.seq, 10)
        assert sum(RUNS) == 30 and len(RUNS) <= 5, RUNS
        # A linger far longer than the test: only the waiting request can cut it short.
        projector.linger_s = 30.0
        for amount in (1, 2):
            move = [lab.CounterMoved(amount=amount, unit="u")]
            head = (await store.append(agg, head.seq, move, actor=ACTOR)).head
            await asyncio.sleep(0.5)  # the first is applied, and the projector lingers
        assert await projector.wait_for(head.seq, 10)
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
    expected, _, _ = await clean_replay(pg_server_url, nc, head.seq)
    async with engine.connect() as conn:
        assert await lab.snapshot(conn) == expected
