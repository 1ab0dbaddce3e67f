"""The event store: what every service appends to and reads aggregates from.

:class:`EventStore` is the port; :class:`shared.nats_store.NatsEventStore` is the real log
(JetStream) and :class:`shared.memory_store.MemoryEventStore` an in-memory stand-in for fast
tests. Both pass the same contract suite (``tests/backbone/store_contract.py``). What they
share, sealing events into signed, chained envelopes and recognising a retried command, is
:class:`shared.sealing_store.SealingStore`; each implements only how messages are published
and read.

* Optimistic concurrency: every append states the aggregate's last stream sequence; a stale
  one is refused (:class:`ConcurrencyConflict`).
* Several events of one command are stored all or none.
* Outages get a definite answer (the NATS implementation): not connected, nothing is sent
  (:class:`LogUnavailable`); sent, but the log went away before answering, the very same
  messages are sent again once it is back, and only if it stays away is the outcome unknown
  (:class:`AppendOutcomeUnknown`).
* Every acknowledged append is noted in the request's ledger (:mod:`shared.request_ledger`),
  so an HTTP request that fails afterwards still answers "accepted".
* Event ids are derived from the command's idempotency key, so a retry stores nothing new.
  The server checks the expected sequence before deduplicating, so a retry that arrives
  after its first attempt succeeded is recognised by finding its own ids after the expected
  position rather than by the duplicate window alone. A key reused for a different command
  (same ids, other event types, or none of its events after the expected position) is refused
  with ``IdempotencyKeyReused``, never taken as success.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from shared.envelope import (
    GENESIS,
    Actor,
    Aggregate,
)
from shared.events import DomainEvent
from shared.ids import derived_id
from shared.recorded import RecordedEvent
from shared.signing import SigningKey


def event_id(aggregate: Aggregate, idempotency_key: str, index: int) -> str:
    """The id the ``index``-th event of a command appended with ``idempotency_key`` gets on
    ``aggregate``: the same key always names the same events, so a retry stores nothing new
    and anyone can tell whether a stored event came from a given command."""
    return derived_id(aggregate.subject_filter, idempotency_key, str(index))


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


@dataclass(frozen=True)
class AppendResult:
    events: list[RecordedEvent]
    head: AggregateHead
    duplicate: bool = False


@dataclass(frozen=True)
class StoredMessage:
    """A message as a stream holds it: its sequence, subject and stored bytes."""

    seq: int
    subject: str
    data: bytes


class EventStore(Protocol):
    """The log, as the services use it."""

    site: str
    source: str
    key: SigningKey

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
        """Store ``events`` after the aggregate's event at stream sequence
        ``expected_version`` (0: the aggregate must be new). All or nothing; raises
        :class:`ConcurrencyConflict`, or :class:`IdempotencyKeyReused` for a key that served
        another command; a retry of a stored command answers ``duplicate``."""
        ...

    async def load(self, aggregate: Aggregate, after: int = 0) -> list[RecordedEvent]:
        """The aggregate's events in order (those after stream sequence ``after``)."""
        ...

    async def read_raw(
        self, stream: str, subject_filter: str, start: int = 1
    ) -> list[StoredMessage]:
        """Stored messages on ``subject_filter`` from sequence ``start``, undecoded."""
        ...

    async def correlation_at(self, aggregate: Aggregate, version: int) -> str | None:
        """The chain the aggregate's event at stream sequence ``version`` belongs to."""
        ...
