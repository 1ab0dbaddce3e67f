"""Projections are exactly-once in effect: crashes, redelivery and poison change nothing."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from nats.aio.client import Client as NATS
from nats.js.api import ConsumerConfig, DeliverPolicy
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.config import with_database
from shared.db import checkpoints, dead_letters, ensure_database, make_engine
from shared.envelope import Aggregate, canonical_json
from shared.projection import Projection, StreamProjector
from shared.projection_schema import ProjectionBusy, prepare, reset
from shared.pull import Stored
from shared.recorded import RecordedEvent
from tests import lab
from tests.backbone.helpers import ACTOR, lab_store, write_counters

pytestmark = pytest.mark.connected

ROOT = Path(__file__).resolve().parents[2]


async def replay(engine: AsyncEngine, nc: NATS, until: int) -> list[tuple[object, ...]]:
    await prepare(engine, lab.projection)
    projector = StreamProjector(lab.projection, "LAB", engine, nc.jetstream(), batch_size=50)
    await asyncio.wait_for(projector.run(until_seq=until), 60)
    async with engine.connect() as conn:
        return await lab.snapshot(conn)


async def fresh_engine(pg_server_url: str) -> AsyncEngine:
    url = with_database(pg_server_url, f"t_{uuid.uuid4().hex[:16]}")
    await ensure_database(url)
    return make_engine(url, pool_size=3)


async def test_projection_applies_every_event_once_in_order(engine: AsyncEngine, nc: NATS) -> None:
    store = await lab_store(nc)
    last = await write_counters(store, counters=5, moves=10)
    rows = await replay(engine, nc, last)
    assert len(rows) == 5
    events = {
        agg: evs
        for agg, evs in [
            (f"c{i:03d}", await store.load(Aggregate("lab", "hq", "counter", f"c{i:03d}")))
            for i in range(5)
        ]
    }
    for counter, label, total, count, last_seq in rows:
        evs = events[str(counter)]
        assert total == sum(e.event.amount for e in evs if isinstance(e.event, lab.CounterMoved))
        assert (
            count == len(evs)
            and last_seq == evs[-1].seq
            and label == f"n{counter[1:].lstrip('0') or 0}"
        )


async def test_redelivered_events_change_nothing(engine: AsyncEngine, nc: NATS) -> None:
    store = await lab_store(nc)
    last = await write_counters(store, counters=3, moves=5)
    before = await replay(engine, nc, last)
    # Deliver the whole stream again to the same projector, as after a lost ack.
    js = nc.jetstream()
    await js.add_consumer(
        "LAB", ConsumerConfig(durable_name="again", deliver_policy=DeliverPolicy.ALL)
    )
    psub = await js.pull_subscribe_bind("again", stream="LAB")
    msgs = [
        Stored(m.metadata.sequence.stream, m.subject, m.data)
        for m in await psub.fetch(1000, timeout=2)
    ]
    projector = StreamProjector(lab.projection, "LAB", engine, js)
    async with engine.connect() as conn:
        await projector._apply_stored(conn, msgs)
        await projector._apply_stored(conn, msgs[len(msgs) // 2 :])
        assert await lab.snapshot(conn) == before


async def test_cancelled_mid_batch_then_restarted_equals_clean_replay(
    engine: AsyncEngine, nc: NATS, pg_server_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = await lab_store(nc)
    last = await write_counters(store, counters=4, moves=40)
    await prepare(engine, lab.projection)
    moved = lab.projection.handlers[("lab", "CounterMoved")]

    calls = 0
    cancel_after = 0
    reached = asyncio.Event()

    async def counted_moved(conn: AsyncConnection, event: RecordedEvent) -> None:
        nonlocal calls
        calls += 1
        if calls == cancel_after:
            reached.set()
        await moved(conn, event)  # the cancellation lands here, inside a batch of 40

    monkeypatch.setitem(lab.projection.handlers, ("lab", "CounterMoved"), counted_moved)
    checkpoints_seen = []
    # Cancelled by count, not by time, so a fast or a loaded machine cuts in the same places:
    # inside the first batch, then after one more committed batch each time.
    for handled in (20, 60, 60):
        calls, cancel_after = 0, handled
        reached.clear()
        projector = StreamProjector(lab.projection, "LAB", engine, nc.jetstream(), batch_size=40)
        task = asyncio.create_task(projector.run(until_seq=last))
        await asyncio.wait_for(reached.wait(), timeout=60)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        checkpoints_seen.append(projector.checkpoint)
    assert 0 < checkpoints_seen[-1] < last, "cancellation should land mid-stream"
    monkeypatch.undo()
    resumed = await replay(engine, nc, last)
    clean_engine = await fresh_engine(pg_server_url)
    try:
        assert resumed == await replay(clean_engine, nc, last)
    finally:
        await clean_engine.dispose()


async def test_projectors_of_one_read_model_on_two_streams_take_turns(
    nc: NATS, pg_server_url: str
) -> None:
    """A read model fed by two streams is written by two projectors; a batch of one waits
    until the other's has committed, so neither handler misses a row the other wrote."""

    async def elsewhere(conn: AsyncConnection, e: RecordedEvent) -> None:
        raise AssertionError("no event of this context is written here")

    two = Projection(
        name="lab.two_streams",
        version=1,
        metadata=lab.metadata,
        handlers={**lab.projection.handlers, ("elsewhere", "Happened"): elsewhere},
    )
    assert StreamProjector(lab.projection, "LAB", None, nc.jetstream()).tables_key is None  # type: ignore[arg-type]
    store = await lab_store(nc)
    last = await write_counters(store, counters=2, moves=2)
    engine = await fresh_engine(pg_server_url)
    try:
        await prepare(engine, two)
        projector = StreamProjector(two, "LAB", engine, nc.jetstream())
        assert projector.tables_key is not None
        async with engine.connect() as other_stream, other_stream.begin():
            # The other stream's projector, mid-batch.
            await other_stream.execute(
                text("SELECT pg_advisory_xact_lock(:k)"), {"k": projector.tables_key}
            )
            running = asyncio.create_task(projector.run(until_seq=last))
            await asyncio.sleep(1.0)
            assert not running.done()
            async with engine.connect() as conn:
                assert await lab.snapshot(conn) == []
        await asyncio.wait_for(running, 30)  # its turn came with the other's commit
        async with engine.connect() as conn:
            assert len(await lab.snapshot(conn)) == 2
    finally:
        await engine.dispose()


async def test_projector_killed_with_sigkill_then_restarted_equals_clean_replay(
    engine: AsyncEngine, nc: NATS, nats_url: str, database_url: str, pg_server_url: str
) -> None:
    store = await lab_store(nc)
    last = await write_counters(store, counters=6, moves=60)
    await prepare(engine, lab.projection)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [
        sys.executable,
        "-m",
        "tests.backbone.projector_process",
        nats_url,
        database_url,
        str(last),
    ]
    partial = 0
    for _ in range(2):
        proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE)
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == b"running"
        for _ in range(3000):  # let it commit at least one more batch, then cut it off
            async with engine.connect() as conn:
                seen = (await conn.execute(select(checkpoints.c.last_seq))).scalar() or 0
            if seen > partial:
                break
            await asyncio.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        async with engine.connect() as conn:
            partial = (await conn.execute(select(checkpoints.c.last_seq))).scalar() or 0
    assert 0 < partial < last, "the kill should land mid-stream"
    resumed = await replay(engine, nc, last)
    clean_engine = await fresh_engine(pg_server_url)
    try:
        assert resumed == await replay(clean_engine, nc, last)
    finally:
        await clean_engine.dispose()


async def test_poison_events_go_to_dead_letters_and_the_projector_goes_on(
    engine: AsyncEngine, nc: NATS
) -> None:
    store = await lab_store(nc)
    good = Aggregate("lab", "hq", "counter", "good")
    head = (await store.append(good, 0, [lab.CounterOpened(label="g")], actor=ACTOR)).head
    js = nc.jetstream()
    await js.publish("lab.hq.counter.bad.CounterMoved", b"\x00not json at all")
    envelope = dict(head_env := (await store.load(good))[0].envelope)
    envelope.update(id="x1", type="org.relais.lab.CounterMoved.v2", data={"amount": "many"})
    await js.publish("lab.hq.counter.bad.CounterMoved", canonical_json(envelope))
    envelope.update(id="x2", type="org.relais.lab.NoSuchThing.v1", data={})
    await js.publish("lab.hq.counter.bad.CounterMoved", canonical_json(envelope))
    # An event type this projection has no handler for is not its business, known or not (a
    # newer service's event during an upgrade): skipped, not a dead letter.
    envelope.update(id="x3")
    await js.publish("lab.hq.counter.bad.NoSuchThing", canonical_json(envelope))
    # A subject that names another event than the one it carries is not trusted.
    envelope.update(id="x4", type=head_env["type"], data=head_env["data"])
    await js.publish("lab.hq.counter.bad.CounterMoved", canonical_json(envelope))
    bad = Aggregate("lab", "hq", "counter", "broken")
    await store.append(bad, 0, [lab.CounterBroken(reason="r")], actor=ACTOR)
    result = await store.append(good, head.seq, [lab.CounterMoved(amount=3, unit="u")], actor=ACTOR)
    assert head_env["type"].endswith("CounterOpened.v1")

    rows = await replay(engine, nc, result.head.seq)
    assert [(r[0], r[2]) for r in rows] == [("good", 3)]
    async with engine.connect() as conn:
        letters = (
            await conn.execute(
                select(dead_letters.c.seq, dead_letters.c.error).order_by(dead_letters.c.seq)
            )
        ).all()
    assert len(letters) == 5
    assert "not JSON" in letters[0].error
    assert "amount" in letters[1].error and "many" not in letters[1].error  # no data echoed
    assert "unknown event type" in letters[2].error
    assert "another event type" in letters[3].error
    assert "RuntimeError" in letters[4].error


async def test_rebuild_from_the_log_gives_identical_state(engine: AsyncEngine, nc: NATS) -> None:
    store = await lab_store(nc)
    last = await write_counters(store, counters=4, moves=8)
    incremental = await replay(engine, nc, last)
    await reset(engine, lab.projection)
    async with engine.connect() as conn:
        assert await lab.snapshot(conn) == []
    assert await replay(engine, nc, last) == incremental


async def test_rebuild_is_refused_while_a_projector_runs(engine: AsyncEngine, nc: NATS) -> None:
    store = await lab_store(nc)
    last = await write_counters(store, counters=1, moves=2)
    await prepare(engine, lab.projection)
    running = StreamProjector(lab.projection, "LAB", engine, nc.jetstream())
    task = asyncio.create_task(running.run())
    try:
        assert await running.wait_for(last, 20)
        with pytest.raises(ProjectionBusy):
            await reset(engine, lab.projection)
        async with engine.connect() as conn:
            assert len(await lab.snapshot(conn)) == 1  # nothing was dropped
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    await reset(engine, lab.projection)  # once stopped, it goes ahead


async def test_schema_version_change_rebuilds_the_projection(engine: AsyncEngine, nc: NATS) -> None:
    store = await lab_store(nc)
    last = await write_counters(store, counters=2, moves=3)
    before = await replay(engine, nc, last)
    lab.projection.version = 2
    try:
        await prepare(engine, lab.projection)
        async with engine.connect() as conn:
            assert await lab.snapshot(conn) == []
            assert (await conn.execute(select(checkpoints))).all() == []
        assert await replay(engine, nc, last) == before
    finally:
        lab.projection.version = 1


async def test_only_one_instance_applies_a_projection_at_a_time(
    engine: AsyncEngine, nc: NATS
) -> None:
    store = await lab_store(nc)
    await prepare(engine, lab.projection)
    first = StreamProjector(lab.projection, "LAB", engine, nc.jetstream(), standby_retry_s=0.1)
    second = StreamProjector(lab.projection, "LAB", engine, nc.jetstream(), standby_retry_s=0.1)
    tasks = [asyncio.create_task(p.run()) for p in (first, second)]
    try:
        last = await write_counters(store, counters=3, moves=10)
        assert await first.wait_for(last, 20) and await second.wait_for(last, 20)
        assert [first.active, second.active].count(True) == 1
        standby = second if first.active else first
        leader_task = tasks[0] if first.active else tasks[1]
        leader_task.cancel()
        await asyncio.gather(leader_task, return_exceptions=True)
        more = await write_counters(store, counters=1, moves=2, seed=9, prefix="d")
        assert await standby.wait_for(more, 20)  # the standby took over
        assert standby.active
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    async with engine.connect() as conn:
        handed_over = await lab.snapshot(conn)
    assert (
        sum(r[3] for r in handed_over) == (await nc.jetstream().stream_info("LAB")).state.messages
    )


async def test_a_standby_instances_waiting_requests_read_the_checkpoint_together(
    engine: AsyncEngine, nc: NATS
) -> None:
    """Requests of an instance that does not apply the projection learn from the stored
    checkpoint that another instance did; forty of them at once read it at most once every
    20 ms between them, not once each."""
    from sqlalchemy import event

    store = await lab_store(nc)
    last = await write_counters(store, counters=1, moves=2)
    await prepare(engine, lab.projection)
    standby = StreamProjector(lab.projection, "LAB", engine, nc.jetstream())
    reads: list[str] = []

    def count(conn: object, cursor: object, statement: str, *rest: object) -> None:
        if "FROM projection_checkpoint" in statement and "FOR UPDATE" not in statement:
            reads.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    waiting = [asyncio.create_task(standby.wait_for(last, 20)) for _ in range(40)]
    try:
        await asyncio.sleep(1.0)
        assert not any(w.done() for w in waiting)  # nobody has applied it yet
        # Forty requests looking every 50 ms each would have read it 800 times.
        assert 1 <= len(reads) <= 1.0 / 0.02 + 2, len(reads)
        applying = StreamProjector(lab.projection, "LAB", engine, nc.jetstream())
        await asyncio.wait_for(applying.run(until_seq=last), 30)
        assert await asyncio.wait_for(asyncio.gather(*waiting), 5) == [True] * 40
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)
        for w in waiting:
            w.cancel()
        await asyncio.gather(*waiting, return_exceptions=True)
