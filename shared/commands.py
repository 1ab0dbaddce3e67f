"""One way through the middle: every command, from an HTTP route or a background policy,
loads its aggregate from the log, folds it with the service's ``evolve``, calls ``decide``,
and appends, under one concurrency rule and one idempotency rule.

Concurrency. A command states which version of the aggregate it decided on (its
:class:`Expect`): ``new`` (it creates the aggregate: version 0), ``seen(v)`` (a person saw
version ``v``: the command is decided on the aggregate *as they saw it* and appended right
after ``v``, so anything written since is a conflict, never silently overruled), or
``current`` (a policy or a reaction: decided on the aggregate as it now is; when ``retry`` is
allowed, a conflict reloads and decides again; ``any`` is the same for an aggregate that may
not exist yet). The server refuses a stale append
(:class:`ConcurrencyConflict`).

Idempotency. A command carrying a key gets event ids derived from it, so a retry finds its
own events and answers as the first time (``duplicate``), and a key reused for another
command is refused.

Ownership. Only the site in an aggregate's subject changes it: a command on another site's
aggregate raises :class:`~shared.ownership.OwnedElsewhere`, which the HTTP layer forwards to
the owner (``shared/forwarding.py``) or answers 503 naming it.

Read-your-writes. The answer comes once the service's own read models show the events
(``settle``), so the caller reads what they saved.

Nothing here knows HTTP; ``shared/command_http.py`` turns requests into commands' inputs and
outcomes into answers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from typing import Generic, TypeVar

from shared.causation import caused_by_event
from shared.domain import DomainError
from shared.envelope import Actor, Aggregate
from shared.events import DomainEvent
from shared.eventstore import AppendResult, ConcurrencyConflict, EventStore
from shared.i18n import Message
from shared.ownership import (
    OwnedElsewhere,
    OwnershipReleased,
    OwnershipTakenOver,
    owner_of,
)
from shared.recorded import RecordedEvent

S = TypeVar("S")

# Wait until this service's read models have applied ``seq`` of ``stream``.
Settle = Callable[[str, int], Awaitable[None]]
# Told of every append a command made (the service counts its processes' firings).
OnStored = Callable[[Actor, AppendResult], None]
NOT_FOUND = Message(en="Not found.", fr="Introuvable.")


@dataclass(frozen=True)
class AggregateKind(Generic[S]):
    """One kind of aggregate of a service: where it lives and how its state is folded."""

    context: str
    type: str
    initial: S
    evolve: Callable[[S, RecordedEvent], S]
    # How a missing aggregate (or one the caller may not see) is answered: 404.
    not_found: Message = NOT_FOUND
    not_found_code: str = "not_found"

    def fold(self, recorded: Iterable[RecordedEvent]) -> S:
        state = self.initial
        for event in recorded:
            state = self.evolve(state, event)
        return state

    def missing(self) -> DomainError:
        return DomainError(self.not_found_code, self.not_found, status=404)


@dataclass(frozen=True)
class Expect:
    """Which version the command was decided on: see the module's docstring."""

    kind: str  # "new", "seen" or "current"
    version: int = 0

    @classmethod
    def new(cls) -> Expect:
        return cls("new", 0)

    @classmethod
    def seen(cls, version: int) -> Expect:
        return cls("seen", version)

    @classmethod
    def current(cls) -> Expect:
        return cls("current")

    @classmethod
    def any(cls) -> Expect:
        """As it now is, whether it exists yet or not (a unit's places, kept from the first
        reservation on)."""
        return cls("any")


@dataclass(frozen=True)
class Loaded(Generic[S]):
    """An aggregate as the log holds it."""

    aggregate: Aggregate
    recorded: list[RecordedEvent]
    state: S
    # The previous owners' events, for an aggregate this site took over (shared.transfer):
    # folded before its own, never appended after.
    inherited: list[RecordedEvent] = field(default_factory=list)

    @property
    def version(self) -> int:
        """The stream sequence of its last event: what the next append states (0: new)."""
        return self.recorded[-1].seq if self.recorded else 0

    @property
    def exists(self) -> bool:
        return bool(self.recorded)


@dataclass(frozen=True)
class Outcome(Generic[S]):
    """What a command did: the events it stored (or, for a retry, found stored), the
    aggregate's state and version after it."""

    aggregate: Aggregate
    state: S
    version: int
    events: list[RecordedEvent] = field(default_factory=list)
    duplicate: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.events) and not self.duplicate


Decide = Callable[[S], Sequence[DomainEvent]]
# An idempotency key, or how to derive it from the aggregate decided on and the events.
Key = str | Callable[[Loaded[S], Sequence[DomainEvent]], str] | None
# The stored event that caused the command (a sweep's flag names the event that set the
# deadline), from the aggregate decided on and the events: the append names it as its
# cause and carries its chain (``shared.causation``).
Cause = Callable[[Loaded[S], Sequence[DomainEvent]], RecordedEvent | None] | None


class Commands:
    """The application layer every service's routes and policies go through."""

    def __init__(
        self,
        store: EventStore,
        *,
        site: str,
        settle: Settle | None = None,
        on_stored: OnStored | None = None,
        attempts: int = 5,
    ) -> None:
        self.store = store
        self.site = site
        self.settle = settle
        self.on_stored = on_stored
        self.attempts = attempts

    def aggregate(self, kind: AggregateKind[S], aggregate_id: str) -> Aggregate:
        return Aggregate(kind.context, self.site, kind.type, aggregate_id)

    async def load(self, kind: AggregateKind[S], aggregate_id: str) -> Loaded[S]:
        aggregate = self.aggregate(kind, aggregate_id)
        recorded = await self.store.load(aggregate)
        inherited = await self._inherited(aggregate, recorded)
        return Loaded(aggregate, recorded, kind.fold([*inherited, *recorded]), inherited)

    async def _inherited(
        self, aggregate: Aggregate, recorded: list[RecordedEvent], depth: int = 0
    ) -> list[RecordedEvent]:
        """The events of the sites that owned the aggregate before this one took it over (a
        take-over is its first event here), up to each release."""
        first = recorded[0].event if recorded else None
        if not isinstance(first, OwnershipTakenOver) or depth > 8:
            return []
        previous = replace(aggregate, site=first.from_site)
        theirs = await self.store.load(previous)
        if theirs and isinstance(theirs[-1].event, OwnershipReleased):
            theirs = theirs[:-1]
        return [*await self._inherited(previous, theirs, depth + 1), *theirs]

    async def execute(
        self,
        kind: AggregateKind[S],
        aggregate_id: str,
        decide: Decide[S],
        *,
        expect: Expect,
        actor: Actor,
        key: Key[S] = None,
        retry: bool = False,
        visible: Callable[[S], bool] | None = None,
        correlation_id: str | None = None,
        causation_id: str | None = None,
        cause: Cause[S] = None,
        read_your_writes: bool = True,
    ) -> Outcome[S]:
        """Decide ``decide(state)`` on the aggregate and append its events.

        ``visible``: whether the caller may act on the aggregate as it now stands (an
        agency's own case); an aggregate it may not see answers as a missing one, so its
        existence is not disclosed. A decision with no events appends nothing.

        Causation and correlation: ids given here take precedence; otherwise ``cause`` (the
        event the command answers), then the ambient chain (the HTTP request's, a
        reaction's: ``shared.causation``), then the aggregate's own chain."""
        for attempt in range(self.attempts if retry else 1):
            if expect.kind == "new":
                # Nothing to read (decision 0026): a new aggregate is decided on its initial
                # state, and the log refuses the append if the aggregate has any event (a
                # retry's identical events are recognised as duplicates first).
                loaded = Loaded(self.aggregate(kind, aggregate_id), [], kind.initial)
            else:
                loaded = await self.load(kind, aggregate_id)
                last = loaded.recorded[-1].event if loaded.exists else None
                if isinstance(last, OwnershipReleased):
                    # Given to another site (shared.transfer): that site's to change now.
                    raise OwnedElsewhere(replace(loaded.aggregate, site=last.to_site))
                if not loaded.exists:
                    # Another site's aggregate: carried to its owner or refused, never
                    # applied here (shared/ownership.py).
                    owner = await owner_of(self.store, loaded.aggregate)
                    if owner is not None:
                        raise OwnedElsewhere(owner)
            if expect.kind in ("seen", "current") and not (
                loaded.exists and (visible is None or visible(loaded.state))
            ):
                raise kind.missing()
            state, after = self._decided_on(loaded, expect, kind)
            events = list(decide(state))
            if not events:
                if expect.kind == "new":  # nothing to do: answer with what the log holds
                    loaded = await self.load(kind, aggregate_id)
                return Outcome(loaded.aggregate, loaded.state, loaded.version)
            causing = cause(loaded, events) if cause is not None else None
            try:
                with caused_by_event(causing) if causing is not None else nullcontext():
                    result = await self.store.append(
                        loaded.aggregate,
                        after,
                        events,
                        actor=actor,
                        idempotency_key=key(loaded, events) if callable(key) else key,
                        correlation_id=correlation_id,
                        causation_id=causation_id,
                    )
            except ConcurrencyConflict:
                if retry and expect.kind in ("current", "any") and attempt + 1 < self.attempts:
                    continue  # moved meanwhile: decide again on what it now is
                raise
            if self.on_stored is not None:
                self.on_stored(actor, result)
            return await self._outcome(kind, loaded, result, read_your_writes)
        raise AssertionError("unreachable")

    @staticmethod
    def _decided_on(loaded: Loaded[S], expect: Expect, kind: AggregateKind[S]) -> tuple[S, int]:
        """The state the command is decided on, and the version it is appended after."""
        if expect.kind == "seen":
            positions = {r.seq for r in loaded.recorded}
            if expect.version not in positions:
                raise ConcurrencyConflict(loaded.aggregate, expect.version, loaded.version)
            seen = [r for r in loaded.recorded if r.seq <= expect.version]
            return kind.fold([*loaded.inherited, *seen]), expect.version
        if expect.kind == "new":
            return kind.initial, 0
        return loaded.state, loaded.version

    async def _outcome(
        self,
        kind: AggregateKind[S],
        loaded: Loaded[S],
        result: AppendResult,
        read_your_writes: bool,
    ) -> Outcome[S]:
        if read_your_writes and self.settle is not None:
            await self.settle(loaded.aggregate.stream, result.head.seq)
        if result.duplicate:
            # A retry: the aggregate as stored, which may hold more than this command wrote.
            reloaded = await self.load(kind, loaded.aggregate.id)
            return Outcome(loaded.aggregate, reloaded.state, reloaded.version, result.events, True)
        state = loaded.state
        for event in result.events:
            state = kind.evolve(state, event)
        return Outcome(loaded.aggregate, state, result.head.seq, result.events)
