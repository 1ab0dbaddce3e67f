"""Anchored heads: what makes a truncated or renumbered stream show.

A hash chain per aggregate proves each aggregate's history, but a stream cut at its tail, or
rewritten on disk without one aggregate's events and renumbered, leaves every remaining chain
an intact prefix. So each stream also has a *running hash* over all its messages in order,
sequence numbers included (:func:`fold`), and services periodically append to AUDIT a signed
``StreamCheckpointed`` event: "stream X at sequence N, running hash H". ``relais audit verify``
recomputes the running hash of every stream and checks it against every checkpoint: a stream
now shorter than a checkpoint, or whose hash at N differs, was truncated or rewritten.

AUDIT's own head is anchored the same way on AUDIT (by the reporting service), and outside
the log: ``relais audit verify --save-heads FILE`` writes every stream's head for the auditor
to keep, and ``--anchors FILE`` later proves the log still extends it; each service's read
models hold the last sequence they applied, and a projector that finds its stream shorter
stops and says so (:mod:`shared.projection`). See docs/decisions/0010."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from nats.js.errors import NotFoundError

from shared.audit_events import StreamCheckpointed
from shared.envelope import Actor, Aggregate
from shared.eventstore import ConcurrencyConflict, EventStore
from shared.reading import iter_stored

log = logging.getLogger(__name__)

START = "0" * 64  # the running hash of an empty stream
CHECKPOINT_SUBJECTS = "audit.*.checkpoint.*.StreamCheckpointed"


def fold(previous: str, seq: int, subject: str, payload: bytes) -> str:
    """The running hash after the message at ``seq``: SHA-256 of the previous running hash,
    the sequence (8 bytes, big-endian), the subject, a zero byte and the payload's SHA-256.
    Headers are left out: the server adds its own when sourcing across sites."""
    h = hashlib.sha256(bytes.fromhex(previous))
    h.update(seq.to_bytes(8, "big"))
    h.update(subject.encode())
    h.update(b"\0")
    h.update(hashlib.sha256(payload).digest())
    return h.hexdigest()


@dataclass(frozen=True)
class Head:
    """A stream's position and running hash, as anchored or exported."""

    stream: str
    seq: int
    hash: str
    messages: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def save_heads(path: Path, heads: list[Head]) -> None:
    document = {"kind": "relais-stream-heads", "heads": [h.as_dict() for h in heads]}
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


class AnchorsInvalid(ValueError):
    pass


def load_heads(path: Path) -> list[Head]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        return [
            Head(str(h["stream"]), int(h["seq"]), str(h["hash"]), int(h.get("messages", 0)))
            for h in document["heads"]
        ]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise AnchorsInvalid(f"{path}: not a heads file from --save-heads ({exc})") from None


async def last_checkpoint(store: EventStore, stream: str) -> tuple[Head | None, int]:
    """The latest checkpoint of ``stream`` this site wrote, and the checkpoint aggregate's
    version (the AUDIT sequence of that event, 0 if none)."""
    events = await store.load(_aggregate(store, stream))
    if not events:
        return None, 0
    last = events[-1]
    event = last.event
    assert isinstance(event, StreamCheckpointed)
    return Head(event.stream, event.seq, event.hash, event.messages), last.seq


async def checkpoint(store: EventStore, stream: str) -> Head | None:
    """Append a checkpoint of ``stream`` if it moved since the last one; the running hash is
    carried on from that checkpoint. Returns the new head, or None if nothing was due."""
    previous, version = await last_checkpoint(store, stream)
    try:
        info = await store.js.stream_info(stream)
    except NotFoundError:
        return None
    last = int(info.state.last_seq)
    start = previous.seq if previous else 0
    if last < start:
        log.error(
            "stream %s ends at %d, before its checkpoint at %d: events were removed",
            stream,
            last,
            start,
        )
        return None
    # AUDIT anchors itself: the checkpoint just written is no reason for another.
    if last == start or (stream == "AUDIT" and last <= version):
        return None
    running, count = (previous.hash, previous.messages) if previous else (START, 0)
    async for seq, subject, msg in iter_stored(store.nc, stream, ">", start + 1):
        if seq > last:
            break
        running = fold(running, seq, subject, msg.data or b"")
        count += 1
    head = Head(stream, last, running, count)
    event = StreamCheckpointed(stream=stream, seq=last, hash=running, messages=count)
    try:
        await store.append(
            _aggregate(store, stream),
            version,
            [event],
            actor=Actor.system("checkpoints"),
            idempotency_key=f"{stream}:{last}",
        )
    except ConcurrencyConflict:
        return None  # another instance anchored meanwhile: its checkpoint will do
    return head


def _aggregate(store: EventStore, stream: str) -> Aggregate:
    return Aggregate("audit", store.site, "checkpoint", stream)
