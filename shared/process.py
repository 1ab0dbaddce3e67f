"""Process primitives: what a service does by itself, declared rather than hand-written.

* An :class:`Inbox` reacts to another context's event exactly once. The service's read model
  keeps what is still to answer (a pending row); the inbox turns each into a
  :class:`Reaction` on one of the service's own aggregates, which must name a deterministic
  idempotency key (derived from what it answers) and the version it expects (0 for an
  aggregate the reaction creates). Two instances reacting at once, or one reacting again
  after a crash, then store one reaction: the other meets a duplicate or a conflict.
* A :class:`Sweep` flags deadlines once across instances. It lists what the read model shows
  as due, decides on each aggregate folded from the log (the truth), and appends the flag
  under a key naming the deadline, so a deadline is flagged once however many instances
  sweep, and a new deadline of the same aggregate can be flagged again.

Both run on every instance, every ``interval_s`` (the service's configuration), with the
service's clock; one item that fails (NATS away, a faulty row) is logged by its error's type
only (its text may quote a child's data) and tried again on the next pass, without holding up
the others. A reaction or a flag answers once the service's own read model shows it, as a
command does, so the next item of the pass is decided on what the previous one wrote.

Causation and traces (``shared.causation``, ``shared.telemetry``): a reaction runs inside the
trace of the event it answers (its pending row keeps that event's ``traceparent``) and counts
as a firing of its inbox's ``reaction``; its events name what it answers as their cause and
carry its chain (the reaction's ids). A flag names the event that set the deadline it flags
(the sweep's ``cause``) and carries its chain. Tests
run one pass (:meth:`Inbox.run_once`, :meth:`Sweep.run_once`) or one item
(:meth:`Inbox.handle`, :meth:`Sweep.flag`) directly, on the in-memory event store.

Sites (decision 0029): a site's read models also hold the events it sources from the other
sites, and every site runs the same processes. A reaction fires only at the site that owns
the event it answers (the site in that event's subject), which a pending row keeps in its
``site`` column: :meth:`Inbox.handle` leaves another site's item alone (that site answers it,
and the answer reaches here by sourcing), and ``pending`` queries list only this site's
(:func:`this_site`) so another site's items never crowd a pass. A sweep's flag on another
site's aggregate is that site's to store: refused by ownership, it is left to the owner
without a warning."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine

from shared.commands import AggregateKind, Commands, Expect, Loaded, Outcome
from shared.config import Settings
from shared.envelope import Actor
from shared.events import DomainEvent
from shared.eventstore import ConcurrencyConflict
from shared.loops import raise_if_cancelling, repeat
from shared.ownership import OwnedElsewhere
from shared.recorded import RecordedEvent
from shared.telemetry import continue_trace

log = logging.getLogger(__name__)

S = TypeVar("S")
Item = TypeVar("Item")
Clock = Callable[[], datetime]
CURRENT = Expect.current()


def utc_now() -> datetime:
    return datetime.now(UTC)


def row_mapping(item: Any) -> Mapping[str, Any] | None:
    """A pending row as a mapping (its ``traceparent`` names the trace a reaction continues)."""
    mapping = getattr(item, "_mapping", None)
    return mapping if isinstance(mapping, Mapping) else None


def row_site(item: Any) -> str | None:
    """The site that owns the event a pending row answers (its ``site`` column; a recorded
    event's own subject); None for an item that does not say (answered wherever listed)."""
    if isinstance(item, RecordedEvent):
        return item.aggregate.site
    mapping = row_mapping(item)
    site = mapping.get("site") if mapping is not None else getattr(item, "site", None)
    return site if isinstance(site, str) else None


def this_site(column: Any, ports: Ports) -> Any:
    """A ``pending`` query's condition: only the rows this site answers."""
    return column == ports.settings.site


class Ports(Protocol):
    """What a process needs of its service: the runtime offers these, and so does a test."""

    @property
    def commands(self) -> Commands | None: ...

    @property
    def engine(self) -> AsyncEngine | None: ...

    @property
    def settings(self) -> Settings: ...

    def clock(self) -> datetime: ...


@dataclass(frozen=True)
class Reaction(Generic[S]):
    """One append answering one event of another context."""

    kind: AggregateKind[S]
    aggregate_id: str
    decide: Callable[[S], Sequence[DomainEvent]]
    key: str  # deterministic: derived from what is answered
    expect: Expect  # Expect.new() for an aggregate the reaction creates
    actor: Actor
    # What is answered (its event id) and its chain; the events name them.
    causation_id: str | None = None
    correlation_id: str | None = None
    retry: bool = False  # decide again on a conflict (the aggregate moved meanwhile)


@dataclass
class Inbox(Generic[Item]):
    """React once to each item the read model keeps as still to answer."""

    name: str
    pending: Callable[[Ports, int], Awaitable[Sequence[Item]]]
    react: Callable[[Ports, Item], Awaitable[Reaction[Any] | None]]
    interval_s: float = 1.0
    limit: int = 200
    attempts: int = 3  # a reaction whose aggregate moved meanwhile is decided again
    done: str = "reaction(s) stored"  # how a pass that stored some says so in the log
    # The reaction's name in traces (span ``react <reaction>``) and in the policy-firing
    # metric, e.g. ``casework.case-opener``; none: the item's reaction is not traced.
    reaction: str | None = None
    # Where the item keeps the causing event's ``traceparent`` (a pending row's mapping).
    causing: Callable[[Item], Mapping[str, Any] | None] = row_mapping
    # The site that owns the causing event: only that site's instances react to it.
    site_of: Callable[[Item], str | None] = row_site

    def elsewhere(self, ports: Ports, item: Item) -> str | None:
        """The other site that answers this item, or None if it is this site's to answer."""
        site, here = self.site_of(item), getattr(ports.settings, "site", None)
        return site if site is not None and here is not None and site != here else None

    async def handle(self, ports: Ports, item: Item) -> Outcome[Any] | None:
        """Answer one item; None if there was nothing to answer (or another got there, or
        the causing event is another site's: that site answers it)."""
        if self.elsewhere(ports, item) is not None:
            return None
        if self.reaction is None:
            return await self._handle(ports, item)
        with continue_trace(self.reaction, self.causing(item)):
            return await self._handle(ports, item)

    async def _handle(self, ports: Ports, item: Item) -> Outcome[Any] | None:
        for _ in range(self.attempts):
            reaction = await self.react(ports, item)
            if reaction is None:
                return None
            try:
                return await self._store(ports, reaction)
            except ConcurrencyConflict:
                if reaction.expect.kind == "new":
                    return None  # answered by another instance (or before a crash)
                continue  # the aggregate moved: react again to what it now is
        return None  # still moving: the next pass tries again

    @staticmethod
    async def _store(ports: Ports, reaction: Reaction[Any]) -> Outcome[Any]:
        assert ports.commands is not None
        return await ports.commands.execute(
            reaction.kind,
            reaction.aggregate_id,
            reaction.decide,
            expect=reaction.expect,
            actor=reaction.actor,
            key=reaction.key,
            retry=reaction.retry,
            causation_id=reaction.causation_id,
            correlation_id=reaction.correlation_id,
        )

    async def run_once(self, ports: Ports) -> int:
        """One pass: how many reactions this instance stored (not duplicates)."""
        stored = 0
        for item in await self.pending(ports, self.limit):
            try:
                outcome = await self.handle(ports, item)
            except Exception as exc:
                raise_if_cancelling(exc)
                log.warning("%s: one skipped this pass: %s", self.name, type(exc).__name__)
                continue
            stored += 1 if outcome is not None and outcome.changed else 0
        if stored:
            log.info("%s: %d %s", self.name, stored, self.done)
        return stored

    async def run(self, ports: Ports) -> None:
        await repeat(lambda: self.run_once(ports), interval_s=self.interval_s, label=self.name)


@dataclass
class Sweep(Generic[S, Item]):
    """Flag each deadline once: see the module's docstring. ``due`` lists what the read model
    shows as due (aggregate ids, or items that name one with what deciding needs), and
    ``decide`` flags an aggregate as folded from the log."""

    name: str
    kind: AggregateKind[S]
    due: Callable[[Ports, datetime, int], Awaitable[Sequence[Item]]]
    decide: Callable[[S, datetime, Item], Sequence[DomainEvent]]
    # The key naming the deadline, from the aggregate as decided on and the flag's events.
    key: Callable[[Loaded[S], Sequence[DomainEvent]], str]
    actor: Actor
    interval_s: float = 60.0
    limit: int = 200
    aggregate_id: Callable[[Item], str] = str
    expect: Expect = CURRENT  # Expect.any(): the aggregate may not exist yet
    done: str = "flag(s) stored"  # how a pass that stored some says so in the log
    # The event that set the deadline flagged, from the aggregate as decided on, the flag's
    # events and the item: the flag names it as its cause and carries its chain.
    cause: Callable[[Loaded[S], Sequence[DomainEvent], Item], RecordedEvent | None] | None = None

    async def flag(self, ports: Ports, item: Item, now: datetime) -> bool:
        """Flag one aggregate if its deadline has passed; True if this call stored it."""
        assert ports.commands is not None
        try:
            outcome = await ports.commands.execute(
                self.kind,
                self.aggregate_id(item),
                lambda state: self.decide(state, now, item),
                expect=self.expect,
                actor=self.actor,
                key=self.key,
                cause=self._cause_of(item),
            )
        except ConcurrencyConflict:
            return False  # another instance flagged it, or it moved on: next pass
        except OwnedElsewhere:
            return False  # another site's aggregate: its own sweep flags it
        return outcome.changed

    def _cause_of(
        self, item: Item
    ) -> Callable[[Loaded[S], Sequence[DomainEvent]], RecordedEvent | None] | None:
        cause = self.cause
        if cause is None:
            return None
        return lambda loaded, events: cause(loaded, events, item)

    async def run_once(self, ports: Ports, now: datetime | None = None) -> int:
        """One pass: how many flags this instance stored."""
        now = now or ports.clock()
        flagged = 0
        for item in await self.due(ports, now, self.limit):
            try:
                flagged += await self.flag(ports, item, now)
            except Exception as exc:
                raise_if_cancelling(exc)
                log.warning("%s: one skipped this pass: %s", self.name, type(exc).__name__)
        if flagged:
            log.info("%s: %d %s", self.name, flagged, self.done)
        return flagged

    async def run(self, ports: Ports) -> None:
        await repeat(lambda: self.run_once(ports), interval_s=self.interval_s, label=self.name)


Process = Inbox[Any] | Sweep[Any, Any]
