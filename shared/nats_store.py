"""The event store on NATS JetStream: the real log.

* Optimistic concurrency is the server's: every append states the aggregate's last stream
  sequence (``Nats-Expected-Last-Subject-Sequence`` over the aggregate's wildcard subject;
  a stale one is refused with error 10071).
* Several events of one command are one JetStream atomic batch: all stored or none. Each
  attempt has a fresh batch id (batches sharing an id interleave on the server, which then
  stores neither); a re-sent batch whose ids are stored is refused whole (10201).
* ``Nats-Msg-Id`` is the event id, so the server deduplicates a message it already holds.
* Outages get a definite answer. Not connected: nothing is sent (:class:`LogUnavailable`;
  the connection keeps no buffer, see :mod:`shared.nats_link`). Sent, but the log went away
  before answering: the store waits for it (``outage_wait_s``) and sends the very same
  messages again (same ids, same expected sequence), which the server stores once or
  recognises; only if the log stays away is the outcome unknown
  (:class:`AppendOutcomeUnknown`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import orjson
from nats import errors as nats_errors
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.errors import (
    NoStreamResponseError,
    NotFoundError,
    ServiceUnavailableError,
)

from shared.envelope import Aggregate
from shared.events import EventRegistry, registry
from shared.eventstore import (
    AppendOutcomeUnknown,
    EventStoreError,
    LogUnavailable,
    StoredMessage,
)
from shared.ids import new_id
from shared.nats_link import Requests, closed_under, drop_buffered_publishes
from shared.reading import ReadError, iter_stored
from shared.request_ledger import note_uncertain
from shared.sealing_store import (
    AlreadyPublished,
    Attempt,
    Sealed,
    SealingStore,
    WrongLastSequence,
)
from shared.signing import SigningKey

ERR_WRONG_LAST_SEQUENCE = 10071
# A replicated stream still storing an earlier message with an expected sequence on the same
# aggregate: it cannot check this one's yet ("wrong last sequence", without a sequence).
ERR_LAST_SEQUENCE_IN_PROCESS = 10164
ERR_BATCH_DUPLICATE_ID = 10201
# How long an append asks again while its aggregate's previous message is being stored:
# raft commits in milliseconds; past this, it is settled as a conflict.
IN_PROCESS_RETRY_S = 1.0

# Failures of the connection or of a read: the log is unreachable.
UNREACHABLE = (nats_errors.Error, ReadError, TimeoutError, OSError)
# Failures that prove the message reached no stream.
_REFUSED_UNSENT = (
    nats_errors.OutboundBufferLimitError,
    nats_errors.ConnectionClosedError,
    nats_errors.ConnectionDrainingError,
    nats_errors.ConnectionReconnectingError,
    nats_errors.NoRespondersError,
    NoStreamResponseError,
    ServiceUnavailableError,
)


class _NotSent(Exception):
    """Refused before reaching a stream: not stored."""


class _Unanswered(Exception):
    """Sent, but no answer came: stored or not, nobody knows yet."""


class _InProcess(Exception):
    """Not stored: the aggregate's previous message is still being stored (a replicated
    stream), so the expected sequence could not be checked yet. Asked again, the log stores
    it or answers a plain conflict."""


def _stored_sequences(answer_bytes: bytes | None, count: int) -> list[int]:
    """The stream sequences of ``count`` messages from the log's answer to their append
    (the last one's, for a batch); raises what the answer refuses."""
    try:
        answer = orjson.loads(answer_bytes or b"{}")
    except orjson.JSONDecodeError:
        answer = None
    if not isinstance(answer, dict):
        raise EventStoreError("append answered with something other than a JSON object")
    error = answer.get("error")
    if error:
        code = error.get("err_code")
        if code == ERR_WRONG_LAST_SEQUENCE:
            raise WrongLastSequence
        if code == ERR_LAST_SEQUENCE_IN_PROCESS:
            raise _InProcess
        if code == ERR_BATCH_DUPLICATE_ID:
            raise AlreadyPublished
        if error.get("code") == 503:
            raise _NotSent(f"log unavailable ({code})")
        raise EventStoreError(f"append refused: {error.get('description')} ({code})")
    if answer.get("duplicate"):
        raise AlreadyPublished
    seq, stored = answer.get("seq"), answer.get("count", count)
    if not isinstance(seq, int) or not isinstance(stored, int):
        raise EventStoreError("append answered without a stream sequence and count")
    if stored != count:
        raise EventStoreError(f"batch stored {stored} of {count} events")
    return list(range(seq - count + 1, seq + 1))


class NatsEventStore(SealingStore):
    unreachable = UNREACHABLE

    def __init__(
        self,
        nc: NATS,
        *,
        key: SigningKey,
        source: str,
        site: str,
        writable_contexts: Sequence[str],
        reg: EventRegistry = registry,
        request_timeout_s: float = 5.0,
        outage_wait_s: float = 15.0,
    ) -> None:
        super().__init__(
            key=key, source=source, site=site, writable_contexts=writable_contexts, reg=reg
        )
        self.nc = nc
        self.js: JetStreamContext = nc.jetstream(timeout=request_timeout_s)
        self.timeout = request_timeout_s
        self.outage_wait_s = outage_wait_s
        self.requests = Requests(nc)

    async def _publish_when_checkable(
        self,
        aggregate: Aggregate,
        expected: int,
        messages: Sealed,
        carrier: dict[str, str],
    ) -> list[int]:
        """Publish, asking again while a replicated stream is still storing the aggregate's
        previous message (nats-py's key-value store reads that answer as a conflict; here it
        becomes one only if it lasts)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + IN_PROCESS_RETRY_S
        pause = 0.002
        while True:
            try:
                return await self._publish(aggregate, expected, messages, carrier)
            except _InProcess:
                if loop.time() >= deadline:
                    raise WrongLastSequence from None
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.1)

    async def _publish(
        self,
        aggregate: Aggregate,
        expected: int,
        messages: Sealed,
        carrier: dict[str, str],
    ) -> list[int]:
        expect = {
            "Nats-Expected-Last-Subject-Sequence": str(expected),
            "Nats-Expected-Last-Subject-Sequence-Subject": aggregate.subject_filter,
            "Nats-Expected-Stream": aggregate.stream,
        }
        # One event is a plain publish; several are one atomic batch. A fresh batch id per
        # attempt: two writers retrying the same command derive the same event ids, and
        # batches sharing an id interleave on the server, which then stores neither.
        batch_id = new_id() if len(messages) > 1 else None
        last = len(messages)
        for number, (subject, payload, envelope) in enumerate(messages, start=1):
            headers = {"Nats-Msg-Id": envelope["id"], **carrier}
            if number == 1:
                headers.update(expect)
            if batch_id is not None:
                headers["Nats-Batch-Id"] = batch_id
                headers["Nats-Batch-Sequence"] = str(number)
            try:
                if number < last:
                    # Without its commit a batch is never stored: a message sent here and
                    # then lost or delayed stores nothing.
                    await self.nc.publish(subject, payload, headers=headers)
                    continue
                if batch_id is not None:
                    headers["Nats-Batch-Commit"] = "1"
                # The reply is parsed here rather than by ``JetStreamContext.publish``: one
                # reading of the answer for a single event and a batch alike, and cheaper.
                # Sent at once, not when nats-py's flusher next runs (shared/nats_link.py).
                reply = await self.requests.request(
                    subject, payload, headers=headers, timeout=self.timeout
                )
            except _REFUSED_UNSENT as exc:
                raise _NotSent(type(exc).__name__) from None
            except UNREACHABLE as exc:
                raise _Unanswered(type(exc).__name__) from None
            except RuntimeError as exc:
                if not closed_under(exc):
                    raise
                # Unwritten, and must stay so: not sent after the reconnection either.
                drop_buffered_publishes(self.nc)
                raise _NotSent("the connection closed under the client") from None
            return _stored_sequences(reply.data, last)
        raise AssertionError("unreachable")

    async def _send(
        self,
        aggregate: Aggregate,
        expected: int,
        messages: Sealed,
        carrier: dict[str, str],
        attempt: Attempt,
    ) -> list[int]:
        """Publish; if no answer comes, wait for the log and send the same messages again
        until it says stored, duplicate or refused."""
        if not self.nc.is_connected:
            raise LogUnavailable("not connected to NATS")
        try:
            return await self._publish_when_checkable(aggregate, expected, messages, carrier)
        except _NotSent as exc:
            raise LogUnavailable(str(exc)) from None
        except _Unanswered:
            attempt.uncertain = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.outage_wait_s
        while loop.time() < deadline:
            if self.nc.is_connected:
                try:
                    return await self._publish_when_checkable(
                        aggregate, expected, messages, carrier
                    )
                except (_NotSent, _Unanswered):
                    pass
            await asyncio.sleep(0.1)
        note_uncertain()
        raise AppendOutcomeUnknown(f"{aggregate.stream}: no answer within {self.outage_wait_s} s")

    async def _message_at(self, stream: str, seq: int) -> StoredMessage | None:
        try:
            msg = await self.js.get_msg(stream, seq, direct=True)
        except NotFoundError:
            return None
        if msg.subject is None:
            return None
        return StoredMessage(seq, msg.subject, msg.data or b"")

    async def read_raw(
        self, stream: str, subject_filter: str, start: int = 1
    ) -> list[StoredMessage]:
        return [
            StoredMessage(seq, subject, msg.data or b"")
            async for seq, subject, msg in iter_stored(self.nc, stream, subject_filter, start)
        ]
