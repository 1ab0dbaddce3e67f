"""The one application layer (shared/commands.py) on the in-memory store: the concurrency
rule, idempotent retries, retry on conflict, visibility, read-your-writes, causes and firings."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from types import SimpleNamespace

import pytest

from shared.commands import AggregateKind, Commands, Expect
from shared.domain import DomainError
from shared.envelope import Actor
from shared.events import DomainEvent
from shared.eventstore import ConcurrencyConflict, IdempotencyKeyReused
from shared.memory_store import MemoryEventStore
from shared.process import Inbox, Ports, Reaction
from shared.recorded import RecordedEvent
from shared.telemetry import firing
from tests.lab import CounterMoved, CounterOpened

pytestmark = pytest.mark.app

ACTOR = Actor(user="u-1", agency="ocpm", role="case_worker")


@dataclass(frozen=True)
class Counter:
    label: str = ""
    total: int = 0
    moves: int = 0


def evolve(state: Counter, recorded: RecordedEvent) -> Counter:
    event = recorded.event
    if isinstance(event, CounterOpened):
        return Counter(label=event.label)
    if isinstance(event, CounterMoved):
        return replace(state, total=state.total + event.amount, moves=state.moves + 1)
    return state


COUNTER = AggregateKind("lab", "counter", Counter(), evolve)


def move(amount: int) -> list[DomainEvent]:
    return [CounterMoved(amount=amount, unit="u")]


class Settled:
    def __init__(self) -> None:
        self.seen: list[tuple[str, int]] = []

    async def __call__(self, stream: str, seq: int) -> None:
        self.seen.append((stream, seq))


@pytest.fixture
def settled() -> Settled:
    return Settled()


@pytest.fixture
def commands(settled: Settled) -> Commands:
    store = MemoryEventStore(writable_contexts=("lab",))
    return Commands(store, site="hq", settle=settled)


async def opened(commands: Commands, name: str = "c") -> int:
    outcome = await commands.execute(
        COUNTER, name, lambda _: [CounterOpened(label=name)], expect=Expect.new(), actor=ACTOR
    )
    return outcome.version


async def test_a_command_is_decided_on_the_folded_aggregate_and_read_back(
    commands: Commands, settled: Settled
) -> None:
    version = await opened(commands)
    outcome = await commands.execute(
        COUNTER, "c", lambda s: move(s.moves + 2), expect=Expect.seen(version), actor=ACTOR
    )
    assert outcome.state == Counter(label="c", total=2, moves=1)
    assert outcome.version > version and outcome.changed
    assert settled.seen[-1] == ("LAB", outcome.version)
    assert (await commands.load(COUNTER, "c")).state == outcome.state


async def test_a_stale_version_is_a_conflict_naming_the_current_one(commands: Commands) -> None:
    version = await opened(commands)
    moved = await commands.execute(
        COUNTER, "c", lambda _: move(1), expect=Expect.seen(version), actor=ACTOR
    )
    with pytest.raises(ConcurrencyConflict) as conflict:
        await commands.execute(
            COUNTER, "c", lambda _: move(5), expect=Expect.seen(version), actor=ACTOR
        )
    assert (conflict.value.expected, conflict.value.actual) == (version, moved.version)
    with pytest.raises(ConcurrencyConflict):  # not a version this aggregate ever had
        await commands.execute(
            COUNTER, "c", lambda _: move(5), expect=Expect.seen(moved.version + 7), actor=ACTOR
        )
    assert (await commands.load(COUNTER, "c")).state.total == 1


async def test_a_retry_answers_as_the_first_time_and_a_reused_key_is_refused(
    commands: Commands,
) -> None:
    version = await opened(commands)
    first = await commands.execute(
        COUNTER, "c", lambda _: move(3), expect=Expect.seen(version), actor=ACTOR, key="k"
    )
    again = await commands.execute(
        COUNTER, "c", lambda _: move(3), expect=Expect.seen(version), actor=ACTOR, key="k"
    )
    assert again.duplicate and not again.changed
    assert [e.id for e in again.events] == [e.id for e in first.events]
    assert again.version == first.version and again.state.total == 3
    with pytest.raises(IdempotencyKeyReused):
        await commands.execute(
            COUNTER,
            "c",
            lambda _: [CounterOpened(label="other")],
            expect=Expect.seen(first.version),
            actor=ACTOR,
            key="k",
        )


async def test_creating_twice_is_a_conflict_unless_it_is_a_retry(commands: Commands) -> None:
    first = await commands.execute(
        COUNTER,
        "n",
        lambda _: [CounterOpened(label="n")],
        expect=Expect.new(),
        actor=ACTOR,
        key="k",
    )
    again = await commands.execute(
        COUNTER,
        "n",
        lambda _: [CounterOpened(label="n")],
        expect=Expect.new(),
        actor=ACTOR,
        key="k",
    )
    assert again.duplicate and again.version == first.version
    with pytest.raises(ConcurrencyConflict):
        await commands.execute(
            COUNTER, "n", lambda _: [CounterOpened(label="n")], expect=Expect.new(), actor=ACTOR
        )


async def test_a_policy_retries_on_conflict_and_decides_again(commands: Commands) -> None:
    await opened(commands)
    decided_on: list[int] = []
    racer = commands.store

    def decide(state: Counter) -> list[DomainEvent]:
        decided_on.append(state.moves)
        return move(10) if state.moves < 2 else []

    original = racer.load

    async def load_then_someone_moves(aggregate, after=0):  # type: ignore[no-untyped-def]
        loaded = await original(aggregate, after)
        if len(decided_on) == 0:  # between this load and the append, another writer moves
            await racer.append(aggregate, loaded[-1].seq, move(1), actor=ACTOR)
        return loaded

    racer.load = load_then_someone_moves  # type: ignore[method-assign]
    outcome = await commands.execute(
        COUNTER, "c", decide, expect=Expect.current(), actor=ACTOR, retry=True
    )
    assert decided_on == [0, 1] and outcome.state.total == 11


async def test_without_retry_a_conflict_is_answered(commands: Commands) -> None:
    version = await opened(commands)
    await commands.store.append(commands.aggregate(COUNTER, "c"), version, move(1), actor=ACTOR)
    outcome = await commands.execute(
        COUNTER, "c", lambda _: move(1), expect=Expect.current(), actor=ACTOR
    )
    assert outcome.state.total == 2  # current: decided on what the aggregate now is


async def test_a_decision_without_events_appends_nothing(
    commands: Commands, settled: Settled
) -> None:
    version = await opened(commands)
    outcome = await commands.execute(
        COUNTER, "c", lambda _: [], expect=Expect.seen(version), actor=ACTOR
    )
    assert not outcome.changed and outcome.version == version and not outcome.events
    assert len(await commands.store.load(commands.aggregate(COUNTER, "c"))) == 1


async def test_a_missing_or_hidden_aggregate_answers_as_missing(commands: Commands) -> None:
    with pytest.raises(DomainError) as missing:
        await commands.execute(
            COUNTER, "nobody", lambda _: move(1), expect=Expect.current(), actor=ACTOR
        )
    assert missing.value.status == 404
    version = await opened(commands, "mine")
    with pytest.raises(DomainError) as hidden:
        await commands.execute(
            COUNTER,
            "mine",
            lambda _: move(1),
            expect=Expect.seen(version),
            actor=ACTOR,
            visible=lambda s: s.label == "theirs",
        )
    assert hidden.value.status == 404


async def test_two_instances_reacting_at_once_store_one_reaction(commands: Commands) -> None:
    twin = Commands(commands.store.twin(), site="hq")  # type: ignore[attr-defined]
    results = await asyncio.gather(
        *(
            c.execute(
                COUNTER,
                "r",
                lambda _: [CounterOpened(label="r"), CounterMoved(amount=1, unit="u")],
                expect=Expect.new(),
                actor=ACTOR,
                key="reaction:r",
            )
            for c in (commands, twin)
        )
    )
    assert sorted(r.duplicate for r in results) == [False, True]
    assert (await commands.load(COUNTER, "r")).state.total == 1


async def test_a_command_answering_an_event_names_it_and_carries_its_chain(
    commands: Commands,
) -> None:
    await opened(commands, "cause")
    cause = (await commands.load(COUNTER, "cause")).recorded[-1]
    await opened(commands, "flagged")
    stored: list[tuple[str, int]] = []
    commands.on_stored = lambda actor, result: stored.append((actor.user, len(result.events)))
    outcome = await commands.execute(
        COUNTER,
        "flagged",
        lambda _: move(1),
        expect=Expect.current(),
        actor=Actor.system("lab.sweep"),
        cause=lambda loaded, events: cause,
    )
    [flag] = outcome.events
    assert flag.envelope["causationid"] == cause.id
    assert flag.envelope["correlationid"] == cause.envelope["correlationid"]
    assert stored == [("system:lab.sweep", 1)]
    # Without a cause, a person's command on the aggregate names none and keeps its chain.
    later = await commands.execute(
        COUNTER, "flagged", lambda _: move(1), expect=Expect.current(), actor=ACTOR
    )
    assert "causationid" not in later.events[0].envelope
    assert later.events[0].envelope["correlationid"] == cause.envelope["correlationid"]


async def test_an_inbox_reaction_counts_as_its_firing_and_names_what_it_answers(
    commands: Commands,
) -> None:
    await opened(commands, "request")
    request = (await commands.load(COUNTER, "request")).recorded[-1]
    fired: list[str | None] = []
    commands.on_stored = lambda actor, result: fired.append(firing(actor.user, actor.role))

    async def pending(ports: Ports, limit: int) -> list[RecordedEvent]:
        return [request]

    async def react(ports: Ports, item: RecordedEvent) -> Reaction[Counter]:
        return Reaction(
            kind=COUNTER,
            aggregate_id="answer",
            decide=lambda _: [CounterOpened(label="answer")],
            key=f"answer:{item.id}",
            expect=Expect.new(),
            actor=ACTOR,  # the person who asked: not a system actor
            causation_id=item.id,
            correlation_id="the-story",
        )

    inbox: Inbox[RecordedEvent] = Inbox(
        name="answerer", pending=pending, react=react, reaction="lab.answerer"
    )
    ports = SimpleNamespace(commands=commands, engine=None, settings=None, clock=None)
    assert await inbox.run_once(ports) == 1  # type: ignore[arg-type]
    [answer] = (await commands.load(COUNTER, "answer")).recorded
    assert answer.envelope["causationid"] == request.id
    assert answer.envelope["correlationid"] == "the-story"
    assert fired == ["lab.answerer"]


@dataclass(frozen=True)
class Owed:
    """A pending row as a read model lists it: what it answers, and that event's site."""

    id: str
    site: str


async def test_an_inbox_reacts_only_to_what_its_own_site_owns(commands: Commands) -> None:
    """A read model at the hub also lists what it sourced from an office: that office's
    instances answer it, so the hub's inbox leaves it alone (decision 0029)."""
    reacted: list[str] = []

    async def pending(ports: Ports, limit: int) -> list[Owed]:
        return [Owed("here", "hq"), Owed("there", "parakou")]

    async def react(ports: Ports, item: Owed) -> Reaction[Counter]:
        reacted.append(item.id)
        return Reaction(
            kind=COUNTER,
            aggregate_id=f"answer-{item.id}",
            decide=lambda _: [CounterOpened(label=item.id)],
            key=f"answer:{item.id}",
            expect=Expect.new(),
            actor=ACTOR,
        )

    inbox: Inbox[Owed] = Inbox(name="answerer", pending=pending, react=react)
    ports = SimpleNamespace(commands=commands, engine=None, settings=SimpleNamespace(site="hq"))
    assert await inbox.run_once(ports) == 1  # type: ignore[arg-type]
    assert await inbox.handle(ports, Owed("there", "parakou")) is None  # type: ignore[arg-type]
    assert reacted == ["here"]
    assert (await commands.load(COUNTER, "answer-here")).version > 0
    assert (await commands.load(COUNTER, "answer-there")).version == 0
    # A recorded event says its site by its subject: this site's own are answered.
    await opened(commands, "asked")
    asked = (await commands.load(COUNTER, "asked")).recorded[-1]
    assert inbox.elsewhere(ports, asked) is None  # type: ignore[arg-type]
    assert inbox.elsewhere(ports, Owed("x", "parakou")) == "parakou"  # type: ignore[arg-type]
