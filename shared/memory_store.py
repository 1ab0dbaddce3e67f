"""An in-memory event store for fast tests of commands, inbox handlers and sweeps.

It keeps JetStream's rules that the services rely on, and passes the same contract suite as
:class:`shared.nats_store.NatsEventStore` (``tests/backbone/store_contract.py``): one sequence
per stream, the expected last sequence of the aggregate's subject checked before anything is
stored (and before deduplication, as the server does), a message id stored once, and several
events of one append stored all or none. Events are sealed exactly as on the real log
(envelope, chain, signature), so whatever reads them cannot tell the difference.

Nothing here survives the process: it is a test kitchen, never a deployment's log."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from shared.envelope import Aggregate
from shared.events import EventRegistry, registry
from shared.eventstore import StoredMessage
from shared.sealing_store import AlreadyPublished, Sealed, SealingStore, WrongLastSequence
from shared.signing import SigningKey


def subject_matches(subject: str, pattern: str) -> bool:
    """NATS subject matching: ``*`` is one token, ``>`` the rest (one token or more)."""
    parts, wanted = subject.split("."), pattern.split(".")
    for index, part in enumerate(wanted):
        if part == ">":
            return len(parts) > index
        if index >= len(parts) or part not in ("*", parts[index]):
            return False
    return len(parts) == len(wanted)


class MemoryEventStore(SealingStore):
    def __init__(
        self,
        *,
        key: SigningKey | None = None,
        source: str = "/relais/hq/test/1",
        site: str = "hq",
        writable_contexts: Sequence[str],
        reg: EventRegistry = registry,
    ) -> None:
        super().__init__(
            key=key or SigningKey.generate(),
            source=source,
            site=site,
            writable_contexts=writable_contexts,
            reg=reg,
        )
        self.streams: dict[str, list[StoredMessage]] = defaultdict(list)
        self._ids: dict[str, dict[str, int]] = defaultdict(dict)
        self._last: dict[tuple[str, str], int] = {}  # (stream, aggregate filter) -> seq

    async def _publish(
        self, aggregate: Aggregate, expected: int, messages: Sealed, carrier: dict[str, str]
    ) -> list[int]:
        stream = aggregate.stream
        # No await between the checks and the store: concurrent appends serialise here as
        # they do on the server.
        if self._last.get((stream, aggregate.subject_filter), 0) != expected:
            raise WrongLastSequence
        known = self._ids[stream]
        if any(envelope["id"] in known for _, _, envelope in messages):
            raise AlreadyPublished
        seqs = []
        for subject, payload, envelope in messages:
            seq = len(self.streams[stream]) + 1
            self.streams[stream].append(StoredMessage(seq, subject, payload))
            known[envelope["id"]] = seq
            seqs.append(seq)
        self._last[(stream, aggregate.subject_filter)] = seqs[-1]
        return seqs

    def twin(self, *, key: SigningKey | None = None, source: str | None = None) -> MemoryEventStore:
        """Another writer on the same log, as a second instance of a service would be."""
        other = MemoryEventStore(
            key=key,
            source=source or self.source,
            site=self.site,
            writable_contexts=tuple(self.writable),
            reg=self.registry,
        )
        other.streams, other._ids, other._last = self.streams, self._ids, self._last
        return other

    def put_raw(self, subject: str, data: bytes) -> int:
        """Store bytes as they are, as a foreign or faulty writer could: for tests of what
        readers do with them. Returns the sequence."""
        aggregate = Aggregate.from_subject(subject)
        stored = self.streams[aggregate.stream]
        seq = len(stored) + 1
        stored.append(StoredMessage(seq, subject, data))
        self._last[(aggregate.stream, aggregate.subject_filter)] = seq
        return seq

    async def _message_at(self, stream: str, seq: int) -> StoredMessage | None:
        stored = self.streams.get(stream, [])
        return stored[seq - 1] if 0 < seq <= len(stored) else None

    async def read_raw(
        self, stream: str, subject_filter: str, start: int = 1
    ) -> list[StoredMessage]:
        return [
            m
            for m in self.streams.get(stream, [])[max(start, 1) - 1 :]
            if subject_matches(m.subject, subject_filter)
        ]
