"""Tampering that leaves every chain an intact prefix is caught by the anchored heads and the
streams' guarantees: a changed configuration, a sealed stream, a tail cut off the block file
with the server stopped, an aggregate removed and the rest renumbered with the block
checksums recomputed; a projector that finds its stream shorter stops and says so."""

from __future__ import annotations

import asyncio
import shutil
import struct
from dataclasses import replace
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client as NATS
from nats.js.api import DiscardPolicy
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from relais.audit import verify_log
from relais.embedded import NatsServer, free_port
from shared.anchors import checkpoint, load_heads, save_heads
from shared.db import checkpoints
from shared.eventstore import EventStore
from shared.keys import load_keyring, publish_signing_key
from shared.projection import StreamProjector
from shared.projection_schema import prepare
from shared.projector import StreamBehindCheckpoint
from shared.reading import iter_stored
from shared.streams import ensure_streams
from shared.verify import verify
from tests import lab
from tests.backbone.helpers import lab_store, write_counters

pytestmark = pytest.mark.connected

STREAMS = ["LAB", "AUDIT"]


def problems(report) -> list[str]:
    return [f"{f.stream}:{f.seq} {f.problem}" for f in report.failures]


async def anchored_log(nc: NATS) -> EventStore:
    """Three counters with a few moves, LAB and AUDIT checkpointed; verifies clean."""
    store = await lab_store(nc)
    await publish_signing_key(store)
    await write_counters(store, counters=3, moves=3)
    assert await checkpoint(store, "LAB") is not None
    assert await checkpoint(store, "AUDIT") is not None
    report = await verify(nc, STREAMS, await load_keyring(nc), site="hq")
    assert report.ok, problems(report)
    assert report.anchors_checked == 2
    return store


def stream_dir(server: NatsServer, name: str) -> Path:
    found = list((server.data_dir / "jetstream").glob(f"**/streams/{name}"))
    assert len(found) == 1, found
    return found[0]


def records(block: bytes) -> list[tuple[int, int]]:
    """(offset, sequence) of each message record of a nats-server 2.14 block file."""
    out, offset = [], 0
    while offset < len(block):
        length = struct.unpack_from("<I", block, offset)[0] & 0x7FFFFFFF
        out.append((offset, struct.unpack_from("<Q", block, offset + 4)[0]))
        offset += length
    return out


async def test_a_changed_configuration_fails_verification(nc: NATS) -> None:
    await anchored_log(nc)
    js = nc.jetstream()
    config = (await js.stream_info("LAB")).config
    # What one service's credentials did before they lost the right to: a limit that drops
    # all but the last event, discarding the oldest.
    await js.update_stream(replace(config, max_msgs=1, discard=DiscardPolicy.OLD))
    report = await verify(nc, STREAMS, await load_keyring(nc), site="hq")
    found = problems(report)
    assert any("max_msgs limits the stream" in p for p in found), found
    assert any("discard is not new" in p for p in found), found
    assert any("starts at sequence" in p for p in found), found  # the head went
    assert any("missing sequences 1-" in p for p in found), found


async def test_a_sealed_stream_fails_verification(nc: NATS) -> None:
    await anchored_log(nc)
    js = nc.jetstream()
    config = (await js.stream_info("AUDIT")).config
    await js.update_stream(replace(config, sealed=True))
    report = await verify(nc, STREAMS, await load_keyring(nc), site="hq")
    assert any("AUDIT:None configuration: the stream is sealed" in p for p in problems(report))


async def test_a_tail_cut_from_the_block_file_fails_verification(
    nats_server: NatsServer | None, nc: NATS
) -> None:
    if nats_server is None:
        pytest.skip("needs the server's files")  # an external server is not ours to cut
    await anchored_log(nc)
    last = int((await nc.jetstream().stream_info("LAB")).state.last_seq)
    await nc.close()
    nats_server.stop()
    directory = stream_dir(nats_server, "LAB")
    block = sorted((directory / "msgs").glob("*.blk"))[-1]
    raw = block.read_bytes()
    offset, first_cut = records(raw)[-2]
    block.write_bytes(raw[:offset])  # the last two events
    (directory / "msgs" / "index.db").unlink()  # so the server believes the blocks
    nats_server.start()

    report = await verify_log(nats_server.url, STREAMS)
    found = problems(report)
    assert report.heads["LAB"].seq == first_cut - 1 == last - 2
    assert not any("missing sequence" in p or "chain broken" in p for p in found), found
    assert any(
        f"stream ends at sequence {last - 2}, but the checkpoint at AUDIT:" in p
        and f"says it reached {last}" in p
        for p in found
    ), found


async def test_an_aggregate_removed_and_renumbered_fails_verification(
    nats_server: NatsServer | None, nc: NATS, tmp_path: Path
) -> None:
    if nats_server is None:
        pytest.skip("needs the server's files")
    await anchored_log(nc)
    js = nc.jetstream()
    config = (await js.stream_info("LAB")).config
    kept = [
        (subject, bytes(msg.data or b""))
        async for _, subject, msg in iter_stored(nc, "LAB", ">")
        if ".c001." not in subject  # counter c001's history goes
    ]
    await nc.close()
    nats_server.stop()
    # The rewritten stream is written by a nats-server itself, so every block checksum and
    # the stream's state agree: as if the block files had been rewritten with the checksums
    # recomputed. Sequences are contiguous again.
    scratch = NatsServer(tmp_path / "scratch", port=free_port()).start()
    try:
        other = await nats.connect(scratch.url)
        await other.jetstream().add_stream(config)
        for subject, data in kept:
            await other.jetstream().publish(subject, data)
        await other.close()
    finally:
        scratch.stop()
    target = stream_dir(nats_server, "LAB")
    shutil.rmtree(target)
    shutil.copytree(stream_dir(scratch, "LAB"), target)
    nats_server.start()

    report = await verify_log(nats_server.url, STREAMS)
    found = problems(report)
    assert report.streams["LAB"] == len(kept)
    assert not any("missing sequence" in p or "chain broken" in p for p in found), found
    assert any("events were removed from its tail" in p for p in found), found
    # The service writes on, and the stream grows past the checkpoint: the running hash at
    # the checkpoint's sequence tells the rewrite.
    writer = await nats.connect(nats_server.url)
    await write_counters(await lab_store(writer), counters=4, moves=1, prefix="z")
    await writer.close()
    report = await verify_log(nats_server.url, STREAMS)
    found = problems(report)
    assert not any("missing sequence" in p or "chain broken" in p for p in found), found
    assert any("is not what the checkpoint at AUDIT:" in p and "(rewritten)" in p for p in found), (
        found
    )


async def test_audit_cut_after_its_last_checkpoint_fails_against_the_kept_heads(
    nats_server: NatsServer | None, nc: NATS, tmp_path: Path
) -> None:
    if nats_server is None:
        pytest.skip("needs the server's files")
    await anchored_log(nc)
    kept = tmp_path / "heads.json"
    report = await verify(nc, STREAMS, await load_keyring(nc), site="hq")
    save_heads(kept, list(report.heads.values()))
    audit_last = report.heads["AUDIT"].seq
    await nc.close()
    nats_server.stop()
    directory = stream_dir(nats_server, "AUDIT")
    block = sorted((directory / "msgs").glob("*.blk"))[-1]
    raw = block.read_bytes()
    block.write_bytes(raw[: records(raw)[-1][0]])  # AUDIT's own last checkpoint goes
    (directory / "msgs" / "index.db").unlink()
    nats_server.start()

    # The log alone cannot tell: its own record of its head went with the tail.
    assert (await verify_log(nats_server.url, STREAMS)).ok
    report = await verify_log(nats_server.url, STREAMS, anchors=load_heads(kept))
    assert any(
        f"stream ends at sequence {audit_last - 1}, but the heads file says it reached" in p
        for p in problems(report)
    ), problems(report)


async def test_a_projector_whose_stream_is_shorter_stops_and_says_so(
    nc: NATS, engine: AsyncEngine
) -> None:
    store = await lab_store(nc)
    await write_counters(store, counters=1, moves=2)
    await prepare(engine, lab.projection)
    projector = StreamProjector(lab.projection, "LAB", engine, nc.jetstream(), standby_retry_s=0.05)
    last = int((await nc.jetstream().stream_info("LAB")).state.last_seq)
    await projector.run(until_seq=last)
    async with engine.begin() as conn:  # as if the stream had lost its last 40 events
        await conn.execute(
            update(checkpoints)
            .where(checkpoints.c.projector == lab.projection.name)
            .values(last_seq=last + 40)
        )
    runner = asyncio.create_task(projector.run())
    try:
        for _ in range(100):
            if projector.halted:
                break
            await asyncio.sleep(0.05)
        assert projector.halted is not None
        assert f"LAB ends at sequence {last}" in projector.halted
        assert f"already applied up to {last + 40}" in projector.halted
        # New events do not slip in under the removed numbers.
        await write_counters(store, counters=1, moves=1, prefix="n")
        await asyncio.sleep(0.3)
        assert projector.checkpoint == last + 40 and projector.halted
    finally:
        runner.cancel()
        with pytest.raises(asyncio.CancelledError):
            await runner


class _Swallowing(StreamProjector):
    """Its check of the stream swallows a cancellation and reports the stream short anyway,
    as a nats-py request racing its own timeout can (Python 3.11's ``wait_for``). Only the
    first: a second cancellation ends a projector that went on, so a failing test ends too."""

    swallowed = False

    async def _check_not_behind(self) -> int:
        try:
            await asyncio.sleep(0.2)
        except asyncio.CancelledError:
            if self.swallowed:
                raise
            self.swallowed = True
        raise StreamBehindCheckpoint("LAB ends before the checkpoint")


async def test_a_halted_projector_stops_when_cancelled_even_if_the_cancellation_is_swallowed(
    nc: NATS, engine: AsyncEngine
) -> None:
    await lab_store(nc)
    await prepare(engine, lab.projection)
    projector = _Swallowing(lab.projection, "LAB", engine, nc.jetstream(), standby_retry_s=0.05)
    runner = asyncio.create_task(projector.run())
    for _ in range(100):
        if projector.halted:
            break
        await asyncio.sleep(0.05)
    assert projector.halted
    await asyncio.sleep(0.1)  # inside the check again
    runner.cancel()
    # Not ``wait_for``: on a timeout it would wait for the runner's cancellation forever.
    done, _ = await asyncio.wait([runner], timeout=5)
    if not done:
        runner.cancel()
        await asyncio.wait([runner])
    assert projector.swallowed and done, "the projector went on after its cancellation"


async def test_the_operator_may_not_restore_a_stream_whose_head_was_removed(nc: NATS) -> None:
    await anchored_log(nc)
    js = nc.jetstream()
    config = (await js.stream_info("LAB")).config
    await js.update_stream(replace(config, max_msgs=1, discard=DiscardPolicy.OLD))
    from shared.streams import StreamMisconfigured

    with pytest.raises(StreamMisconfigured, match="head was removed"):
        await ensure_streams(js, "hq", contexts=("lab",))
