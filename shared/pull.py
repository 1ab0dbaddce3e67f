"""Reading a pull consumer in batches, one inbox for all of them (decision 0026,
"throughput6").

nats-py's ``PullSubscription.fetch`` hands over each message through ``next_msg``, which
names a task with a fresh ``uuid4`` and starts it for every message, after parsing every
stored header into a dict and building a ``Msg``: most of a replay's time in the client went
there. A projector needs three things of a delivery (its stream sequence, subject and bytes),
so its puller takes deliveries off the connection as they are read (:func:`_taps`), before
any of that, and a batch ends when the server says so: ``batch`` messages delivered, or a
status (404 no messages, 408 request expired) on the request's own reply subject.

Only one request is ever outstanding, so every delivery belongs to it. Deliveries of one
consumer session must follow each other in stream order: one missing (a delivery lost with a
dropped connection, or messages aged out of the stream meanwhile) breaks the puller
(:class:`PullBroken`), and the projector positions a fresh consumer at its checkpoint. Acking
past a missing message ("ack all") would otherwise skip it for good.
"""

from __future__ import annotations

import asyncio
import json
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field

from nats.aio.client import Client as NATS
from nats.aio.subscription import Subscription

# A request's answer comes within its expiry; past it by this much, the request was lost (a
# dropped connection takes waiting requests with it) and the projector consumes afresh. Not
# tighter: a machine under load can take over a second to carry a no-wait answer, and each
# false loss repositions the consumer, which under that load is slower still.
GRACE_S = 5.0
_ENDS_REQUEST = {"404", "408"}  # no messages now; the request expired

# (subject, reply, payload, header block or None) of one delivery, as read off the wire.
Tap = Callable[[bytes, bytes, bytes, bytes | None], None]
_TAPS: weakref.WeakKeyDictionary[NATS, dict[int, Tap]] = weakref.WeakKeyDictionary()


def _taps(nc: NATS) -> dict[int, Tap]:
    """The subscriptions (by id) whose deliveries a function takes straight off ``nc``'s
    reader. nats-py 2.16's reader hands every message to ``Client._process_msg(sid, subject,
    reply, payload, headers)``, all bytes; this wraps it once per connection. (nats-py is
    pinned to 2.16 for it; every projector test goes through here.)"""
    taps = _TAPS.get(nc)
    if taps is None:
        taps = _TAPS[nc] = {}
        original = nc._process_msg
        found = taps

        async def process_msg(
            sid: int, subject: bytes, reply: bytes, data: bytes, headers: bytes | None
        ) -> None:
            tap = found.get(sid)
            if tap is None:
                await original(sid, subject, reply, data, headers)  # type: ignore[arg-type]
            else:
                tap(subject, reply, data, headers)

        setattr(nc, "_process_msg", process_msg)  # noqa: B010 (an instance's, not the class's)
    return taps


def _status(headers: bytes) -> tuple[str, str] | None:
    """(code, description) of a status message ("NATS/1.0 404 No Messages\r\n..."), or
    None for a message's own headers ("NATS/1.0\r\nNats-Msg-Id: ...")."""
    line = headers.split(b"\r\n", 1)[0]
    if not line.startswith(b"NATS/1.0 "):
        return None
    code, _, description = line[9:].decode("ascii", "replace").partition(" ")
    return code, description.strip()


@dataclass(frozen=True, slots=True)
class Stored:
    """One stored message to apply: its stream sequence, subject and bytes."""

    seq: int
    subject: str
    data: bytes


class PullBroken(Exception):
    """The consumer's deliveries can no longer be trusted to be complete (a missing message,
    a lost or refused request, the consumer deleted): position a fresh one."""


@dataclass
class Pulled:
    """One batch: the messages, the ack subject of the furthest one ("ack all" acknowledges
    everything up to it) and how many the consumer still holds after it (the lag)."""

    messages: list[Stored] = field(default_factory=list)
    ack: str = ""
    pending: int = 0
    furthest: int = 0


def ack_position(reply: str) -> tuple[int, int]:
    """(stream sequence, messages pending) from a JetStream ack subject, in either layout:
    ``$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>`` or, with a
    domain and account hash, ``$JS.ACK.<domain>.<hash>.<stream>.<consumer>.<delivered>.<sseq>
    .<cseq>.<ts>.<pending>[.<token>]``."""
    tokens = reply.split(".")
    if tokens[:2] == ["$JS", "ACK"]:
        if len(tokens) == 9:
            return int(tokens[5]), int(tokens[8])
        if len(tokens) >= 11:
            return int(tokens[7]), int(tokens[10])
    raise ValueError(f"not a JetStream delivery: {reply!r}")


class _Request:
    def __init__(self, reply: str, batch: int) -> None:
        self.reply = reply
        self.batch = batch
        self.pulled = Pulled()
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def end(self) -> None:
        if not self.done.done():
            self.done.set_result(None)


class Puller:
    """Batches of one durable pull consumer, from stream sequence ``first`` on."""

    def __init__(
        self, nc: NATS, stream: str, consumer: str, *, first: int, api_prefix: str = "$JS.API"
    ) -> None:
        self.nc = nc
        self.next_seq = first  # the sequence the next new delivery must carry
        self._next_subject = f"{api_prefix}.CONSUMER.MSG.NEXT.{stream}.{consumer}"
        self._inbox = nc.new_inbox()
        self._sub: Subscription | None = None
        self._request: _Request | None = None
        self._requests = 0
        self.broken: PullBroken | None = None

    async def start(self) -> Puller:
        # No callback and nobody reading its queue: every delivery is taken off the reader.
        self._sub = await self.nc.subscribe(f"{self._inbox}.*")
        self._sid: int = self._sub._id
        _taps(self.nc)[self._sid] = self._delivered
        return self

    async def close(self) -> None:
        if self._request is not None:
            self._request.end()
        if self._sub is not None:
            sub, self._sub = self._sub, None
            _taps(self.nc).pop(self._sid, None)
            await sub.unsubscribe()

    async def fetch(self, batch: int, timeout: float) -> Pulled:
        """Up to ``batch`` messages: those the consumer holds now, or else those that come
        within ``timeout`` seconds (TimeoutError if none do)."""
        pulled = await self._pull(batch, {"no_wait": True}, GRACE_S)
        if not pulled.messages:
            pulled = await self._pull(batch, {"expires": int(timeout * 1e9)}, timeout + GRACE_S)
        if not pulled.messages:
            raise TimeoutError
        return pulled

    async def ack(self, pulled: Pulled) -> None:
        """Acknowledge every message up to the batch's furthest ("ack all")."""
        if pulled.ack:
            await self.nc.publish(pulled.ack, b"+ACK")

    async def _pull(self, batch: int, request: dict[str, object], wait_s: float) -> Pulled:
        if self.broken is not None:
            raise self.broken
        if self._sub is None or self._request is not None:
            raise RuntimeError("one request at a time, on a started puller")
        self._requests += 1
        current = _Request(f"{self._inbox}.{self._requests}", batch)
        self._request = current
        try:
            await self.nc.publish(
                self._next_subject,
                json.dumps({"batch": batch, **request}).encode(),
                reply=current.reply,
            )
            try:
                await asyncio.wait_for(asyncio.shield(current.done), wait_s)
            except TimeoutError:
                self.broken = PullBroken("the consumer did not answer a pull request")
        finally:
            self._request = None
        if self.broken is not None and not current.pulled.messages:
            raise self.broken
        return current.pulled

    def _delivered(self, subject: bytes, reply: bytes, data: bytes, headers: bytes | None) -> None:
        # Runs inside nats-py's reader: never raise there (it would drop the connection).
        try:
            self._take(subject.decode(), reply.decode(), data, headers)
        except Exception as exc:
            self._break(f"an unreadable delivery ({type(exc).__name__})")

    def _break(self, why: str) -> None:
        self.broken = self.broken or PullBroken(why)
        if self._request is not None:
            self._request.end()

    def _take(self, subject: str, reply: str, data: bytes, headers: bytes | None) -> None:
        current = self._request
        status = _status(headers) if headers and not data else None
        if current is None or current.done.done():
            if status is None:  # a delivery no request is waiting for: the session is unsound
                self._break("a delivery outside any request")
            return
        if status is not None:
            if subject == current.reply:  # an older request's status is no news
                code, description = status
                if code not in _ENDS_REQUEST:
                    self._break(f"pull request refused: {code} {description}".strip())
                current.end()
            return
        seq, pending = ack_position(reply)
        if seq > self.next_seq:
            self._break(f"sequence {self.next_seq} was not delivered (got {seq})")
            return
        pulled = current.pulled
        pulled.messages.append(Stored(seq, subject, data))
        if seq == self.next_seq:
            self.next_seq += 1
        # An older one is a redelivery (its ack was lost): applied already, skipped there.
        if seq >= pulled.furthest:
            pulled.furthest, pulled.ack, pulled.pending = seq, reply, pending
        if len(pulled.messages) >= current.batch:
            current.end()
