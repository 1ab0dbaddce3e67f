"""Appending as every event store does it (:class:`SealingStore`): check ownership, seal
events into signed, chained envelopes, publish, and recognise a retried command. The port,
its errors and results are :mod:`shared.eventstore`; :mod:`shared.nats_store` and
:mod:`shared.memory_store` implement only how messages are published and read."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from opentelemetry import propagate, trace

from shared import causation
from shared.envelope import (
    CANONICALIZATION,
    JCS,
    Actor,
    Aggregate,
    sha256_hex,
    signed_envelope_bytes,
    utc_now_iso,
)
from shared.events import DomainEvent, EventRegistry, registry
from shared.eventstore import (
    AggregateHead,
    AppendOutcomeUnknown,
    AppendResult,
    ConcurrencyConflict,
    IdempotencyKeyReused,
    LogUnavailable,
    NotOwner,
    StoredMessage,
    event_id,
)
from shared.ids import new_id
from shared.recorded import Position, RecordedEvent, decode, parse_envelope
from shared.request_ledger import StoredEvent, note_stored, note_uncertain
from shared.signing import SigningKey
from shared.telemetry import metrics, record_trace

tracer = trace.get_tracer("relais.eventstore")


def _traceparent(envelope: dict[str, Any]) -> str | None:
    value = envelope.get("traceparent")
    return value if isinstance(value, str) else None


class AlreadyPublished(Exception):
    """The log deduplicated the message: an event with its id is already stored."""


class WrongLastSequence(Exception):
    """The log refused the append: the aggregate is not at the expected sequence."""


@dataclass
class Attempt:
    uncertain: bool = False  # sent, and no answer came (yet)


def _note(events: list[RecordedEvent]) -> None:
    note_stored(
        [
            StoredEvent(
                e.position.stream, e.seq, e.id, e.event.name, e.aggregate.type, e.aggregate.id
            )
            for e in events
        ]
    )


class _HeadCache:
    """The last known head of recently written or read aggregates, so an append after a
    load or a previous append needs no extra round trip to chain its first event.

    Heads are kept as tuples of strings and integers, which the garbage collector does not
    track: 50,000 head objects made every full collection walk them (decision 0026,
    throughput7)."""

    def __init__(self, size: int = 50_000) -> None:
        self.size = size
        self.entries: OrderedDict[str, tuple[int, int, str, str | None, str | None]] = OrderedDict()

    def get(self, aggregate: Aggregate, seq: int) -> AggregateHead | None:
        head = self.entries.get(aggregate.subject_filter)
        if head is None or head[0] != seq:
            return None
        self.entries.move_to_end(aggregate.subject_filter)
        return AggregateHead(*head)

    def put(self, aggregate: Aggregate, head: AggregateHead) -> None:
        self.entries[aggregate.subject_filter] = (
            head.seq,
            head.version,
            head.hash,
            head.traceparent,
            head.correlation,
        )
        self.entries.move_to_end(aggregate.subject_filter)
        if len(self.entries) > self.size:
            self.entries.popitem(last=False)


# (subject, stored bytes, envelope) of each event of one append, in order.
Sealed = list[tuple[str, bytes, dict[str, Any]]]


class SealingStore(ABC):
    """Appending as every implementation does it: check ownership, seal (envelope, chain,
    sign), publish, and tell a retry of a stored command from a conflict or a reused key.
    Subclasses publish and read messages."""

    # Failures of the connection or of a read: the log is unreachable.
    unreachable: tuple[type[BaseException], ...] = ()

    def __init__(
        self,
        *,
        key: SigningKey,
        source: str,
        site: str,
        writable_contexts: Sequence[str],
        reg: EventRegistry = registry,
    ) -> None:
        self.key = key
        self.source = source
        self.site = site
        self.writable = frozenset(writable_contexts)
        self.registry = reg
        self._heads = _HeadCache()

    @abstractmethod
    async def _publish(
        self, aggregate: Aggregate, expected: int, messages: Sealed, carrier: dict[str, str]
    ) -> list[int]:
        """Store the sealed messages after ``expected``, all or none; their sequences. Raises
        :class:`WrongLastSequence` or :class:`AlreadyPublished`."""

    async def _send(
        self,
        aggregate: Aggregate,
        expected: int,
        messages: Sealed,
        carrier: dict[str, str],
        attempt: Attempt,
    ) -> list[int]:
        """Publish (an implementation may wait out an outage and send again)."""
        return await self._publish(aggregate, expected, messages, carrier)

    @abstractmethod
    async def _message_at(self, stream: str, seq: int) -> StoredMessage | None:
        """The message at ``seq``, if the stream holds one."""

    @abstractmethod
    async def read_raw(
        self, stream: str, subject_filter: str, start: int = 1
    ) -> list[StoredMessage]:
        """Stored messages on ``subject_filter`` from sequence ``start``, undecoded."""

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
        except self.unreachable as exc:
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
            sent = Attempt()
            try:
                seqs = await self._send(aggregate, expected_version, messages, carrier, sent)
            except (WrongLastSequence, AlreadyPublished) as exc:
                try:
                    duplicate = await self._settle_refusal(
                        aggregate, expected_version, messages, exc
                    )
                except self.unreachable as read_exc:
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
    ) -> Sealed:
        """Envelope, chain and sign each event; returns (subject, stored bytes, envelope)."""
        now = utc_now_iso()
        prevhash = head.hash
        sealed: Sealed = []
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
            payload = signed_envelope_bytes(envelope, self.key.sign_bytes)
            prevhash = sha256_hex(payload)
            sealed.append((aggregate.subject(event.name), payload, envelope))
        return sealed

    async def _settle_refusal(
        self, aggregate: Aggregate, expected: int, messages: Sealed, refusal: Exception
    ) -> AppendResult:
        # A conflict may be this very command's earlier attempt (stored after the expected
        # position); a deduplicated message is one stored anywhere.
        conflict = isinstance(refusal, WrongLastSequence)
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
        messages: Sealed,
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
        msg = await self._message_at(aggregate.stream, seq)
        if msg is None or Aggregate.from_subject(msg.subject) != aggregate:
            raise await self._conflict(aggregate, seq)
        envelope = parse_envelope(msg.data)
        head = AggregateHead(
            seq,
            int(envelope["aggregateversion"]),
            sha256_hex(msg.data),
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
                msg.data,
                stream=aggregate.stream,
                seq=msg.seq,
                subject=msg.subject,
                reg=self.registry,
            )
            for msg in await self.read_raw(aggregate.stream, aggregate.subject_filter, after + 1)
        ]
        if events:
            self._heads.put(aggregate, self._head_of(events[-1]))
        return events


def _correlation(envelope: dict[str, Any]) -> str | None:
    value = envelope.get("correlationid") or envelope.get("id")
    return str(value) if value else None
