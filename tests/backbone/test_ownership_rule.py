"""The ownership rule on the shared command path, on the in-memory store: a command on an
aggregate another site owns raises ``OwnedElsewhere`` naming the owner and appends nothing;
an aggregate nobody holds is still a 404; a new aggregate is created at this site."""

from __future__ import annotations

import pytest

from shared.commands import Commands, Expect
from shared.domain import DomainError
from shared.memory_store import MemoryEventStore
from shared.ownership import OwnedElsewhere
from tests.backbone.test_commands import ACTOR, COUNTER, move
from tests.lab import CounterOpened

pytestmark = pytest.mark.app


def two_sites() -> tuple[Commands, Commands, MemoryEventStore]:
    hub = MemoryEventStore(site="hq", source="/relais/hq/lab/1", writable_contexts=("lab",))
    # The office's log holds the hub's events as sourced copies: the same stream here.
    office = MemoryEventStore(
        site="parakou", source="/relais/parakou/lab/1", writable_contexts=("lab",)
    )
    office.streams, office._ids, office._last = hub.streams, hub._ids, hub._last
    return Commands(hub, site="hq"), Commands(office, site="parakou"), hub


async def test_another_sites_aggregate_is_refused_naming_its_owner() -> None:
    at_hub, at_office, log = two_sites()
    opened = await at_hub.execute(
        COUNTER, "h1", lambda _: [CounterOpened(label="hq")], expect=Expect.new(), actor=ACTOR
    )
    before = list(log.streams["LAB"])
    for expect in (Expect.seen(opened.version), Expect.current(), Expect.any()):
        with pytest.raises(OwnedElsewhere) as raised:
            await at_office.execute(COUNTER, "h1", lambda _: move(1), expect=expect, actor=ACTOR)
        assert raised.value.owner == "hq"
        assert raised.value.status == 503
        assert raised.value.extra == {"owner_site": "hq"}
        assert "hq" in raised.value.message.en and "hq" in raised.value.message.fr
    assert log.streams["LAB"] == before  # nothing appended anywhere

    # The owner itself goes on as before.
    moved = await at_hub.execute(
        COUNTER, "h1", lambda _: move(2), expect=Expect.seen(opened.version), actor=ACTOR
    )
    assert moved.state.total == 2


async def test_an_aggregate_nobody_holds_is_not_found_and_new_ones_are_this_sites() -> None:
    _, at_office, log = two_sites()
    with pytest.raises(DomainError) as raised:
        await at_office.execute(
            COUNTER, "nowhere", lambda _: move(1), expect=Expect.current(), actor=ACTOR
        )
    assert raised.value.status == 404
    created = await at_office.execute(
        COUNTER, "p1", lambda _: [CounterOpened(label="p")], expect=Expect.new(), actor=ACTOR
    )
    assert created.aggregate.site == "parakou"
    assert [m.subject.split(".")[1] for m in log.streams["LAB"]] == ["parakou"]
