"""Causation and correlation as the event store writes them (shared/causation.py), on a real
nats-server: explicit ids, the ambient chain of a reaction or of a person's command, and the
aggregate's own chain."""

from __future__ import annotations

import pytest
from nats.aio.client import Client as NATS

from shared.causation import caused_by_event, command_scope, continue_chain
from shared.envelope import Actor, Aggregate
from shared.eventstore import EventStore
from shared.signing import SigningKey
from shared.streams import ensure_streams
from tests.lab import CounterMoved, CounterOpened

PERSON = Actor(user="u-1", agency="ocpm", role="case_worker")
PROCESS = Actor.system("lab.reactor")


@pytest.fixture
async def store(nc: NATS) -> EventStore:
    await ensure_streams(nc.jetstream(), "hq", contexts=("lab", "audit"))
    return EventStore(
        nc,
        key=SigningKey.generate(),
        source="/relais/hq/lab/1",
        site="hq",
        writable_contexts=("lab",),
    )


def counter(name: str) -> Aggregate:
    return Aggregate("lab", "hq", "counter", name)


async def test_a_new_aggregate_outside_any_chain_starts_one_and_names_no_cause(
    store: EventStore,
) -> None:
    opened = await store.append(
        counter("a"), 0, [CounterOpened(label="a"), CounterMoved(amount=1, unit="u")], actor=PERSON
    )
    first, second = (e.envelope for e in opened.events)
    assert first["correlationid"] == first["id"] == second["correlationid"]
    assert "causationid" not in first and "causationid" not in second
    # A later command on it, by a person, continues the aggregate's chain.
    moved = await store.append(
        counter("a"), opened.head.seq, [CounterMoved(amount=2, unit="u")], actor=PERSON
    )
    assert moved.events[0].envelope["correlationid"] == first["id"]
    assert "causationid" not in moved.events[0].envelope


async def test_a_reaction_names_its_cause_and_carries_its_chain(store: EventStore) -> None:
    asked = await store.append(counter("ask"), 0, [CounterOpened(label="ask")], actor=PERSON)
    cause = asked.events[0]
    with caused_by_event(cause):
        answer = await store.append(
            counter("answer"), 0, [CounterOpened(label="answer")], actor=PROCESS
        )
    envelope = answer.events[0].envelope
    assert envelope["causationid"] == cause.id
    assert envelope["correlationid"] == cause.envelope["correlationid"]
    # Outside the block, nothing is caused any more.
    alone = await store.append(counter("alone"), 0, [CounterOpened(label="x")], actor=PERSON)
    assert "causationid" not in alone.events[0].envelope


async def test_one_command_shares_one_chain_across_its_appends(store: EventStore) -> None:
    story = await store.append(counter("story"), 0, [CounterOpened(label="s")], actor=PERSON)
    places = await store.append(counter("places"), 0, [CounterOpened(label="p")], actor=PERSON)
    chain = story.events[0].id
    with command_scope():
        # The first append fixes the chain: here, a new aggregate's own first event.
        made = await store.append(counter("made"), 0, [CounterOpened(label="m")], actor=PERSON)
        owed = await store.append(counter("owed"), 0, [CounterOpened(label="o")], actor=PERSON)
    assert owed.events[0].envelope["correlationid"] == made.events[0].id
    with command_scope():
        # A command acting for a story whose first append is on a shared resource.
        continue_chain(await store.correlation_at(counter("story"), story.head.seq))
        taken = await store.append(
            counter("places"), places.head.seq, [CounterMoved(amount=1, unit="u")], actor=PERSON
        )
        moved = await store.append(
            counter("story"), story.head.seq, [CounterMoved(amount=1, unit="u")], actor=PERSON
        )
    assert taken.events[0].envelope["correlationid"] == chain
    assert moved.events[0].envelope["correlationid"] == chain
    assert "causationid" not in taken.events[0].envelope


async def test_ids_given_to_the_append_win(store: EventStore) -> None:
    cause = (await store.append(counter("c"), 0, [CounterOpened(label="c")], actor=PERSON)).events[
        0
    ]
    with caused_by_event(cause):
        given = await store.append(
            counter("g"),
            0,
            [CounterOpened(label="g")],
            actor=PROCESS,
            correlation_id="chain-1",
            causation_id="cause-1",
        )
    assert given.events[0].envelope["correlationid"] == "chain-1"
    assert given.events[0].envelope["causationid"] == "cause-1"
