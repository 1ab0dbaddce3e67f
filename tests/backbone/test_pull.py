"""The projector's puller (shared.pull) on a real nats-server: batches end when the server
says so, nothing is skipped silently, and a projector that loses a delivery positions a fresh
consumer and applies everything."""

from __future__ import annotations

import asyncio
import time

import pytest
from nats.aio.client import Client as NATS
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.projection import StreamProjector
from shared.projection_schema import prepare
from shared.pull import PullBroken, Pulled, Puller, ack_position
from tests import lab
from tests.backbone.helpers import lab_store, write_counters
from tests.backbone.test_batch_projection import clean_replay


async def consumer(nc: NATS, name: str, start: int = 1, **config: object) -> str:
    start_at = (
        {"deliver_policy": DeliverPolicy.BY_START_SEQUENCE, "opt_start_seq": start}
        if start > 1
        else {}
    )
    await nc.jetstream().add_consumer(
        "LAB",
        ConsumerConfig(durable_name=name, ack_policy=AckPolicy.ALL, **start_at, **config),
    )
    return name


@pytest.mark.connected
async def test_batches_follow_the_stream_and_end_when_the_server_says_so(nc: NATS) -> None:
    last = await write_counters(await lab_store(nc), counters=3, moves=4)
    puller = await Puller(nc, "LAB", await consumer(nc, "p1"), first=1).start()
    try:
        seqs: list[int] = []
        sizes = []
        while len(seqs) < last:
            pulled = await puller.fetch(10, 1.0)
            sizes.append(len(pulled.messages))
            seqs += [m.seq for m in pulled.messages]
            assert pulled.furthest == seqs[-1] and pulled.pending == last - seqs[-1]
            await puller.ack(pulled)
        assert seqs == list(range(1, last + 1))
        assert all(size == 10 for size in sizes[:-1])  # a short batch only at the end
        # Nothing more: the server's "no messages", then the wait it was given, then a timeout.
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            await puller.fetch(10, 0.3)
        assert 0.25 < time.monotonic() - started < 3
        info = await nc.jetstream().consumer_info("LAB", "p1")
        assert info.ack_floor.stream_seq == last  # "ack all" acknowledged every one
    finally:
        await puller.close()


@pytest.mark.connected
async def test_a_waiting_fetch_takes_the_first_event_appended(nc: NATS) -> None:
    store = await lab_store(nc)
    puller = await Puller(nc, "LAB", await consumer(nc, "p2"), first=1).start()
    try:
        waiting = asyncio.create_task(puller.fetch(1, 10.0))
        await asyncio.sleep(0.2)
        started = time.monotonic()
        await write_counters(store, counters=1, moves=0)
        pulled = await asyncio.wait_for(waiting, 5)
        assert [m.seq for m in pulled.messages] == [1] and time.monotonic() - started < 2
        assert pulled.messages[0].subject.startswith("lab.hq.counter.")
    finally:
        await puller.close()


@pytest.mark.connected
async def test_a_missing_delivery_breaks_the_puller(nc: NATS) -> None:
    # The consumer starts at 5 while the puller expects 3: as if 3 and 4 were lost in transit.
    await write_counters(await lab_store(nc), counters=2, moves=3)
    puller = await Puller(nc, "LAB", await consumer(nc, "p3", start=5), first=3).start()
    try:
        with pytest.raises(PullBroken, match="sequence 3 was not delivered"):
            await puller.fetch(10, 1.0)
        with pytest.raises(PullBroken):  # and it stays broken: a fresh consumer is needed
            await puller.fetch(10, 1.0)
    finally:
        await puller.close()


@pytest.mark.connected
async def test_a_deleted_consumer_breaks_a_waiting_fetch(nc: NATS) -> None:
    await lab_store(nc)
    puller = await Puller(nc, "LAB", await consumer(nc, "p4"), first=1).start()
    try:
        waiting = asyncio.create_task(puller.fetch(5, 10.0))
        await asyncio.sleep(0.2)
        await nc.jetstream().delete_consumer("LAB", "p4")
        with pytest.raises(PullBroken, match="409"):
            await asyncio.wait_for(waiting, 5)
    finally:
        await puller.close()


@pytest.mark.connected
async def test_a_missing_consumer_is_no_answer_but_a_refusal(nc: NATS) -> None:
    await lab_store(nc)
    puller = await Puller(nc, "LAB", "nobody", first=1).start()
    try:
        with pytest.raises(PullBroken, match="503"):
            await asyncio.wait_for(puller.fetch(5, 1.0), 5)
    finally:
        await puller.close()


@pytest.mark.connected
async def test_a_redelivery_is_handed_over_and_the_ack_covers_the_furthest(nc: NATS) -> None:
    await write_counters(await lab_store(nc), counters=2, moves=2)
    name = await consumer(nc, "p5", ack_wait=0.5)
    puller = await Puller(nc, "LAB", name, first=1).start()
    try:
        first = await puller.fetch(3, 1.0)  # 1..3, not acknowledged: redelivered after 0.5 s
        assert [m.seq for m in first.messages] == [1, 2, 3]
        await asyncio.sleep(0.8)
        again = await puller.fetch(3, 1.0)
        assert [m.seq for m in again.messages] == [1, 2, 3]  # already applied: skipped there
        assert again.furthest == 3 and puller.next_seq == 4
        await puller.ack(again)
        after = await puller.fetch(2, 1.0)
        assert [m.seq for m in after.messages] == [4, 5]
    finally:
        await puller.close()


@pytest.mark.domain
def test_ack_subjects_of_both_layouts() -> None:
    assert ack_position("$JS.ACK.LAB.p.1.42.40.1796537435112644607.7") == (42, 7)
    domain = "$JS.ACK.hq.ACCHASH.LAB.p.1.42.40.1796537435112644607.7.rAnDoM"
    assert ack_position(domain) == (42, 7)
    assert ack_position(domain.rsplit(".", 1)[0]) == (42, 7)
    with pytest.raises(ValueError):
        ack_position("_INBOX.abc.1")


class _LosesOneDelivery(StreamProjector):
    """The connection drops one delivery in transit, once (as a reconnect can)."""

    lost = 0

    async def _fetch(self, puller: Puller, batch: int, timeout: float) -> Pulled:
        if not self.lost:
            take = puller._take

            def dropping(subject: str, reply: str, data: bytes, headers: bytes | None) -> None:
                if data and ack_position(reply)[0] == 7 and not self.lost:
                    self.lost = 7
                    return
                take(subject, reply, data, headers)

            puller._take = dropping  # type: ignore[method-assign]
        return await super()._fetch(puller, batch, timeout)


@pytest.mark.connected
async def test_a_projector_that_loses_a_delivery_applies_every_event(
    engine: AsyncEngine, nc: NATS, pg_server_url: str
) -> None:
    last = await write_counters(await lab_store(nc), counters=4, moves=5)
    await prepare(engine, lab.projection)
    projector = _LosesOneDelivery(
        lab.projection, "LAB", engine, nc.jetstream(), batch_size=5, standby_retry_s=0.1
    )
    try:
        await asyncio.wait_for(projector.run(until_seq=last), 60)
    except TimeoutError:
        pytest.fail(f"stuck at {projector.checkpoint} of {last}, lost {projector.lost}")
    assert projector.lost == 7 and projector.checkpoint == last
    # The same read model as a replay that lost nothing.
    expected, letters, checkpoint = await clean_replay(pg_server_url, nc, last)
    async with engine.connect() as conn:
        assert await lab.snapshot(conn) == expected
    assert letters == [] and checkpoint == last and projector.dead_letter_count == 0
