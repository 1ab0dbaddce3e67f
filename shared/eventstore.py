"""The event store: append to and read aggregates on JetStream.

* Optimistic concurrency is the server's: every append states the aggregate's last stream
  sequence (``Nats-Expected-Last-Subject-Sequence`` over the aggregate's wildcard subject).
* Several events of one command are one JetStream atomic batch: all stored or none.
* Event ids are derived from the command's idempotency key, so a retry stores nothing new.
  The server checks the expected sequence before deduplicating, so a retry that arrives
  after its first attempt succeeded is recognised by finding its own ids after the expected
  position rather than by the duplicate window alone. A key reused for a different command
  (same ids, other event types, or none of its events after the expected position) is refused
  with ``IdempotencyKeyReused``, never taken as success.
* Outages get a definite answer. Not connected: nothing is sent (:class:`LogUnavailable`;
  the connection keeps no buffer, see :mod:`shared.nats_link`). Sent, but the log went away
  before answering: the store waits for it (``outage_wait_s``) and sends the very same
  messages again (same ids, same expected sequence), which the server stores once or
  recognises; only if the log stays away is the outcome unknown
  (:class:`AppendOutcomeUnknown`).
* Every acknowledged append is noted in the request's ledger (:mod:`shared.request_ledger`),
  so an HTTP request that fails afterwards still answers "accepted".
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from nats import errors as nats_errors
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.errors import (
    APIError,
    BadRequestError,
    NoStreamResponseError,
    NotFoundError,
    ServiceUnavailableError,
)
from opentelemetry import propagate, trace

from shared import causation
from shared.envelope import (
    CANONICALIZATION,
    GENESIS,
    JCS,
    Actor,
    Aggregate,
    envelope_bytes,
    sha256_hex,
    utc_now_iso,
)
from shared.events import DomainEvent, EventRegistry, registry
from shared.ids import derived_id, new_id
from shared.reading import ReadError, iter_stored
from shared.recorded import Position, RecordedEvent, decode, parse_envelope
from shared.request_ledger import StoredEvent, note_stored, note_uncertain
from shared.signing import SigningKey
from shared.telemetry import metrics, record_trace

tracer = trace.get_tracer("relais.eventstore")

ERR_WRONG_LAST_SEQUENCE = 10071
ERR_BATCH_DUPLICATE_ID = 10201


def event_id(aggregate: Aggregate, idempotency_key: str, index: int) -> str:
    """The id the ``index``-th event of a command appended with ``idempotency_key`` gets on
    ``aggregate``: the same key always names the same events, so a retry stores nothing new
    and anyone can tell whether a stored event came from a given command."""
    return derived_id(aggregate.subject_filter, idempotency_key, str(index))


def _traceparent(envelope: dict[str, Any]) -> str | None:
    value = envelope.get("traceparent")
    return value if isinstance(value, str) else None


class EventStoreError(RuntimeError):
    pass


class ConcurrencyConflict(EventStoreError):
    """The aggregate moved on since the writer read it: reload and decide again."""

    def __init__(self, aggregate: Aggregate, expected: int, actual: int) -> None:
        super().__init__(
            f"{aggregate.type} {aggregate.id}: expected version {expected}, current is {actual}"
        )
        self.aggregate = aggregate
        self.expected = expected
        self.actual = actual


class IdempotencyKeyReused(EventStoreError):
    """The idempotency key already served another command on this aggregate."""


class LogUnavailable(EventStoreError):
    """The log could not be reached: nothing was sent, so nothing will ever be stored."""


class AppendOutcomeUnknown(EventStoreError):
    """The append was sent, then the log went away before answering and did not come back
    within the wait: it may be stored or not. Sending the same command again with the same
    Idempotency-Key stores it at most once."""


class _AlreadyPublished(Exception):
    """The server deduplicated the message: an event with its id is already stored."""


class _WrongLastSequence(Exception):
    """The server refused the append: the aggregate is not at the expected sequence."""


class _NotSent(Exception):
    """Refused before reaching a stream: not stored."""


class _Unanswered(Exception):
    """Sent, but no answer came: stored or not, nobody knows yet."""


# Failures of the connection or of a read: the log is unreachable.
_UNREACHABLE = (nats_errors.Error, ReadError, TimeoutError, OSError)
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


class NotOwner(EventStoreError):
    """This instance tried to write an aggregate or stream it does not own."""


@dataclass(frozen=True)
class AggregateHead:
    """Where an aggregate stands: last stream sequence, count of events, hash of the last,
    and the chain (correlation id) the last belongs to."""

    seq: int = 0
    version: int = 0
    hash: str = GENESIS
    traceparent: str | None = None  # the last event's: the record's trace continues from it
    correlation: str | None = None  # the last event's chain: a person's command continues it


@dataclass
class _Attempt:
    uncertain: bool = False


def _note(events: list[RecordedEvent]) -> None:
    note_stored(
        [
            StoredEvent(
                e.position.stream, e.seq, e.id, e.event.name, e.aggregate.type, e.aggregate.id
            )
            for e in events
        ]
    )


@dataclass(frozen=True)
class AppendResult:
    events: list[RecordedEvent]
    head: AggregateHead
    duplicate: bool = False


class _HeadCache:
    """The last known head of recently written or read aggregates, so an append after a
    load or a previous append needs no extra round trip to chain its first event."""

    def __init__(self, size: int = 50_000) -> None:
        self.size = size
        self.entries: OrderedDict[str, AggregateHead] = OrderedDict()

    def get(self, aggregate: Aggregate, seq: int) -> AggregateHead | None:
        head = self.entries.get(aggregate.subject_filter)
        if head is None or head.seq != seq:
            return None
        self.entries.move_to_end(aggregate.subject_filter)
        return head

    def put(self, aggregate: Aggregate, head: AggregateHead) -> None:
        self.entries[aggregate.subject_filter] = head
        self.entries.move_to_end(aggregate.subject_filter)
        if len(self.entries) > self.size:
            self.entries.popitem(last=False)


class EventStore:
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
        self.nc = nc
        self.js: JetStreamContext = nc.jetstream(timeout=request_timeout_s)
        self.key = key
        self.source = source
        self.site = site
        self.writable = frozenset(writable_contexts)
        self.registry = reg
        self.timeout = request_timeout_s
        self.outage_wait_s = outage_wait_s
        self._heads = _HeadCache()

    # -- writing ---------------------------------------------------------------------------

    async def append(
        self,
        aggregate: Aggregate,
        expected_version: int,
        events: Sequence[DomainEvent],
        *,
        actor: Actor,
        idempotency_key: str | None = None,
        correlation_id: str | None = None,
        causation_id: str | None = None,
    ) -> AppendResult:
        """Store ``events`` after the aggregate's event at stream sequence ``expected_version``
        (0: the aggregate must be new). All or nothing; raises :class:`ConcurrencyConflict`.

        ``correlation_id`` and ``causation_id`` default to the ambient chain
        (:mod:`shared.causation`), then to the aggregate's own chain."""
        if not events:
            raise ValueError("nothing to append")
        if aggregate.context not in self.writable or aggregate.site != self.site:
            raise NotOwner(f"{self.source} may not write {aggregate.subject_filter}")
        for event in events:
            if event.context != aggregate.context or event.aggregate != aggregate.type:
                raise ValueError(f"{event.type_name()} does not belong to {aggregate.type}")

        started = time.perf_counter()
        try:
            head = await self._head_at(aggregate, expected_version)
        except _UNREACHABLE as exc:
            raise LogUnavailable(f"reading {aggregate.stream}: {type(exc).__name__}") from None
        # An existing record's events share its trace; what caused this append is linked.
        record, links = record_trace(head.traceparent)
        with tracer.start_as_current_span(
            f"append {aggregate.context}.{aggregate.type}",
            context=record,
            links=links,
            kind=trace.SpanKind.PRODUCER,
            attributes={
                "messaging.system": "nats",
                "messaging.destination.name": aggregate.stream,
                "relais.aggregate.type": aggregate.type,
                "relais.aggregate.id": aggregate.id,
                "relais.events": ",".join(e.name for e in events),
                "relais.expected_version": expected_version,
            },
        ):
            carrier: dict[str, str] = {}
            propagate.inject(carrier)
            correlation_id, causation_id = causation.resolve(
                correlation_id, causation_id, head.correlation
            )
            messages = self._seal(
                aggregate,
                head,
                events,
                actor=actor,
                idempotency_key=idempotency_key,
                correlation_id=correlation_id,
                causation_id=causation_id,
                traceparent=carrier.get("traceparent"),
            )
            causation.appended(str(messages[0][2]["correlationid"]))
            sent = _Attempt()
            try:
                seqs = await self._send(aggregate, expected_version, messages, carrier, sent)
            except (_WrongLastSequence, _AlreadyPublished) as exc:
                try:
                    duplicate = await self._settle_refusal(
                        aggregate, expected_version, messages, exc
                    )
                except _UNREACHABLE as read_exc:
                    if sent.uncertain:
                        note_uncertain()
                        raise AppendOutcomeUnknown(
                            f"{aggregate.stream}: {type(read_exc).__name__}"
                        ) from None
                    raise LogUnavailable(f"{aggregate.stream}: {type(read_exc).__name__}") from None
                metrics.append_duplicates.add(1, {"stream": aggregate.stream})
                _note(duplicate.events)
                return duplicate
            recorded = [
                RecordedEvent(
                    position=Position(aggregate.stream, seq),
                    subject=subject,
                    raw=payload,
                    envelope=envelope,
                    event=event,
                )
                for seq, (subject, payload, envelope), event in zip(
                    seqs, messages, events, strict=True
                )
            ]
        _note(recorded)
        new_head = self._head_of(recorded[-1])
        self._heads.put(aggregate, new_head)
        metrics.append_latency.record(
            (time.perf_counter() - started) * 1000, {"stream": aggregate.stream}
        )
        metrics.appended.add(len(recorded), {"stream": aggregate.stream})
        return AppendResult(recorded, new_head)

    def _seal(
        self,
        aggregate: Aggregate,
        head: AggregateHead,
        events: Sequence[DomainEvent],
        *,
        actor: Actor,
        idempotency_key: str | None,
        correlation_id: str | None,
        causation_id: str | None,
        traceparent: str | None,
    ) -> list[tuple[str, bytes, dict[str, Any]]]:
        """Envelope, chain and sign each event; returns (subject, stored bytes, envelope)."""
        now = utc_now_iso()
        prevhash = head.hash
        sealed: list[tuple[str, bytes, dict[str, Any]]] = []
        for index, event in enumerate(events):
            id_ = event_id(aggregate, idempotency_key, index) if idempotency_key else new_id()
            envelope: dict[str, Any] = {
                "specversion": "1.0",
                "id": id_,
                "source": self.source,
                "type": event.type_name(),
                "subject": aggregate.id,
                "time": now,
                "datacontenttype": "application/json",
                "data": event.model_dump(mode="json"),
                "aggregatetype": aggregate.type,
                "aggregateversion": head.version + index + 1,
                "actor": actor.user,
                "actoragency": actor.agency,
                "actorrole": actor.role,
                "correlationid": correlation_id or (sealed[0][2]["id"] if sealed else id_),
                "prevhash": prevhash,
                "keyid": self.key.key_id,
                CANONICALIZATION: JCS,
            }
            if causation_id:
                envelope["causationid"] = causation_id
            if traceparent:
                envelope["traceparent"] = traceparent
            envelope["signature"] = self.key.sign(envelope)
            payload = envelope_bytes(envelope)
            prevhash = sha256_hex(payload)
            sealed.append((aggregate.subject(event.name), payload, envelope))
        return sealed

    async def _publish(
        self,
        aggregate: Aggregate,
        expected: int,
        messages: list[tuple[str, bytes, dict[str, Any]]],
        carrier: dict[str, str],
    ) -> list[int]:
        expect = {
            "Nats-Expected-Last-Subject-Sequence": str(expected),
            "Nats-Expected-Last-Subject-Sequence-Subject": aggregate.subject_filter,
            "Nats-Expected-Stream": aggregate.stream,
        }
        if len(messages) == 1:
            subject, payload, envelope = messages[0]
            headers = {"Nats-Msg-Id": envelope["id"], **expect, **carrier}
            try:
                ack = await self.js.publish(subject, payload, headers=headers)
            except BadRequestError as exc:
                if exc.err_code == ERR_WRONG_LAST_SEQUENCE:
                    raise _WrongLastSequence from None
                raise EventStoreError(f"append refused: {exc.description}") from None
            except _REFUSED_UNSENT as exc:
                raise _NotSent(type(exc).__name__) from None
            except APIError as exc:
                raise EventStoreError(f"append refused: {exc.description}") from None
            except _UNREACHABLE as exc:
                raise _Unanswered(type(exc).__name__) from None
            if ack.duplicate:
                raise _AlreadyPublished
            return [ack.seq]

        # A fresh id per attempt: two writers retrying the same command derive the same event
        # ids, and batches sharing an id interleave on the server, which then stores neither.
        batch_id = new_id()
        last = len(messages)
        for number, (subject, payload, envelope) in enumerate(messages, start=1):
            headers = {
                "Nats-Batch-Id": batch_id,
                "Nats-Batch-Sequence": str(number),
                "Nats-Msg-Id": envelope["id"],
                **carrier,
            }
            if number == 1:
                headers.update(expect)
            try:
                if number < last:
                    # Without its commit a batch is never stored: a message sent here and
                    # then lost or delayed stores nothing.
                    await self.nc.publish(subject, payload, headers=headers)
                    continue
                headers["Nats-Batch-Commit"] = "1"
                reply = await self.nc.request(
                    subject, payload, headers=headers, timeout=self.timeout
                )
            except _REFUSED_UNSENT as exc:
                raise _NotSent(type(exc).__name__) from None
            except _UNREACHABLE as exc:
                raise _Unanswered(type(exc).__name__) from None
            answer = json.loads(reply.data or b"{}")
            error = answer.get("error")
            if error:
                code = error.get("err_code")
                if code == ERR_WRONG_LAST_SEQUENCE:
                    raise _WrongLastSequence
                if code == ERR_BATCH_DUPLICATE_ID:
                    raise _AlreadyPublished
                raise EventStoreError(f"append refused: {error.get('description')} ({code})")
            seq = int(answer["seq"])
            count = int(answer.get("count", last))
            if count != last:
                raise EventStoreError(f"batch stored {count} of {last} events")
            return list(range(seq - last + 1, seq + 1))
        raise AssertionError("unreachable")

    async def _send(
        self,
        aggregate: Aggregate,
        expected: int,
        messages: list[tuple[str, bytes, dict[str, Any]]],
        carrier: dict[str, str],
        attempt: _Attempt,
    ) -> list[int]:
        """Publish; if no answer comes, wait for the log and send the same messages again
        until it says stored, duplicate or refused."""
        if not self.nc.is_connected:
            raise LogUnavailable("not connected to NATS")
        try:
            return await self._publish(aggregate, expected, messages, carrier)
        except _NotSent as exc:
            raise LogUnavailable(str(exc)) from None
        except _Unanswered:
            attempt.uncertain = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.outage_wait_s
        while loop.time() < deadline:
            if self.nc.is_connected:
                try:
                    return await self._publish(aggregate, expected, messages, carrier)
                except (_NotSent, _Unanswered):
                    pass
            await asyncio.sleep(0.1)
        note_uncertain()
        raise AppendOutcomeUnknown(f"{aggregate.stream}: no answer within {self.outage_wait_s} s")

    async def _settle_refusal(
        self,
        aggregate: Aggregate,
        expected: int,
        messages: list[tuple[str, bytes, dict[str, Any]]],
        refusal: Exception,
    ) -> AppendResult:
        # A conflict may be this very command's earlier attempt (stored after the expected
        # position); a deduplicated message is one stored anywhere.
        conflict = isinstance(refusal, _WrongLastSequence)
        stored = await self._already_stored(aggregate, expected if conflict else 0, messages)
        if stored is None:
            if conflict:
                raise await self._conflict(aggregate, expected)
            raise IdempotencyKeyReused(
                f"{aggregate.type} {aggregate.id}: idempotency key already used"
            )
        return AppendResult(stored, self._head_of(stored[-1]), duplicate=True)

    async def _conflict(self, aggregate: Aggregate, expected: int) -> ConcurrencyConflict:
        stored = await self.load(aggregate)
        return ConcurrencyConflict(aggregate, expected, stored[-1].seq if stored else 0)

    async def _already_stored(
        self,
        aggregate: Aggregate,
        expected: int,
        messages: list[tuple[str, bytes, dict[str, Any]]],
    ) -> list[RecordedEvent] | None:
        """The events of an earlier attempt of this very append, if it was stored: the same
        ids after ``expected``, of the same types. (Data may differ: a retry decides again and
        stamps its own times. Other types mean the key served another command.)"""
        wanted = [envelope["id"] for _, _, envelope in messages]
        after = [e for e in await self.load(aggregate) if e.seq > expected]
        found = [e for e in after if e.id in set(wanted)]
        if [e.id for e in found] != wanted:
            return None
        for stored, (_, _, envelope) in zip(found, messages, strict=True):
            if stored.envelope["type"] != envelope["type"]:
                raise IdempotencyKeyReused(
                    f"{aggregate.type} {aggregate.id}: idempotency key already used"
                )
        return found

    async def _head_at(self, aggregate: Aggregate, seq: int) -> AggregateHead:
        if seq == 0:
            return AggregateHead()
        cached = self._heads.get(aggregate, seq)
        if cached is not None:
            return cached
        try:
            msg = await self.js.get_msg(aggregate.stream, seq, direct=True)
        except NotFoundError:
            raise await self._conflict(aggregate, seq) from None
        if msg.subject is None or Aggregate.from_subject(msg.subject) != aggregate:
            raise await self._conflict(aggregate, seq)
        envelope = parse_envelope(msg.data or b"")
        head = AggregateHead(
            seq,
            int(envelope["aggregateversion"]),
            sha256_hex(msg.data or b""),
            _traceparent(envelope),
            _correlation(envelope),
        )
        self._heads.put(aggregate, head)
        return head

    @staticmethod
    def _head_of(event: RecordedEvent) -> AggregateHead:
        return AggregateHead(
            event.seq,
            event.aggregate_version,
            event.hash,
            _traceparent(event.envelope),
            _correlation(event.envelope),
        )

    async def correlation_at(self, aggregate: Aggregate, version: int) -> str | None:
        """The chain the aggregate's event at stream sequence ``version`` belongs to."""
        return (await self._head_at(aggregate, version)).correlation if version else None

    # -- reading ---------------------------------------------------------------------------

    async def load(self, aggregate: Aggregate, after: int = 0) -> list[RecordedEvent]:
        """The aggregate's events in order (those after stream sequence ``after``)."""
        events = [
            decode(
                msg.data or b"",
                stream=aggregate.stream,
                seq=seq,
                subject=subject,
                reg=self.registry,
            )
            for seq, subject, msg in await self.read_subject(
                aggregate.stream, aggregate.subject_filter, after + 1
            )
        ]
        if events:
            self._heads.put(aggregate, self._head_of(events[-1]))
        return events

    async def read_subject(
        self, stream: str, subject_filter: str, start: int
    ) -> list[tuple[int, str, Msg]]:
        return [item async for item in iter_stored(self.nc, stream, subject_filter, start)]


def _correlation(envelope: dict[str, Any]) -> str | None:
    value = envelope.get("correlationid") or envelope.get("id")
    return str(value) if value else None
