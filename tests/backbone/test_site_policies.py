"""Policies across sites on real servers (decision 0029): a hub and a regional office run the
same inbox, and the office's stream holds the hub's events too. A reaction creating a new
aggregate fires only at the site that owns the event it answers: once, at the hub, for the
hub's event, and at the office for the office's own. A counter moved to the office by the
transfer pair (the hub releases it, the office takes it over) is then changed only there,
on its whole history."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from nats.aio.client import Client as NATS

from shared.commands import AggregateKind, Commands, Expect
from shared.envelope import Actor
from shared.nats_store import NatsEventStore
from shared.ownership import OwnedElsewhere
from shared.process import Inbox, Ports, Reaction
from shared.reading import iter_stored
from shared.recorded import RecordedEvent
from shared.signing import SigningKey
from shared.transfer import release, take_over, transfer_events
from tests.lab import CounterMoved, CounterOpened
from tests.sites_support import eventually, two_sites

pytestmark = [pytest.mark.connected, pytest.mark.xdist_group("deployments")]

ACTOR = Actor(user="u-1", agency="ocpm", role="case_worker")


RELEASED, TAKEN_OVER = transfer_events("lab", "counter")


@dataclass(frozen=True)
class Owed:
    """What a read model keeps as still to answer: an opened counter, and its event's site."""

    id: str
    site: str


@dataclass(frozen=True)
class Total:
    total: int = 0


def count(state: Total, recorded: RecordedEvent) -> Total:
    if isinstance(recorded.event, CounterMoved):
        return replace(state, total=state.total + recorded.event.amount)
    return state  # the transfer pair changes nothing


COUNTER = AggregateKind("lab", "counter", Total(), count)


def ports_of(nc: NATS, site: str) -> Ports:
    store = NatsEventStore(
        nc,
        key=SigningKey.generate(),
        source=f"/relais/{site}/lab/1",
        site=site,
        writable_contexts=("lab",),
    )
    ports = SimpleNamespace(
        commands=Commands(store, site=site),
        engine=None,
        settings=SimpleNamespace(site=site),
        clock=lambda: datetime.now(UTC),
    )
    return ports  # type: ignore[return-value]


async def subjects(nc: NATS, pattern: str) -> list[str]:
    return [subject async for _, subject, _ in iter_stored(nc, "LAB", pattern)]


async def owed(ports: Ports, limit: int) -> list[Owed]:
    """Every counter opened that has no receipt yet, as this site's stream holds them (its
    own and those it sourced), each with the site in its subject."""
    assert ports.commands is not None
    stored = await ports.commands.store.read_raw("LAB", "lab.*.counter.*.>")
    names = [(m.subject.split(".")[1], m.subject.split(".")[3]) for m in stored]
    receipts = {name for _, name in names if name.startswith("receipt-")}
    return [
        Owed(name, site)
        for site, name in names
        if not name.startswith("receipt-") and f"receipt-{name}" not in receipts
    ]


async def receipt(ports: Ports, item: Owed) -> Reaction[Total]:
    return Reaction(
        kind=COUNTER,
        aggregate_id=f"receipt-{item.id}",
        decide=lambda _: [CounterOpened(label="receipt")],
        key=f"receipt:{item.id}",
        expect=Expect.new(),
        actor=ACTOR,
    )


RECEIPTS: Inbox[Owed] = Inbox(name="receipts", pending=owed, react=receipt)


async def test_a_reaction_fires_once_at_the_site_that_owns_its_cause(tmp_path: Path) -> None:
    started = time.monotonic()
    async with two_sites(tmp_path) as (hub_nc, office_nc):
        hub, office = ports_of(hub_nc, "hq"), ports_of(office_nc, "parakou")
        assert hub.commands is not None and office.commands is not None
        opening = {"expect": Expect.new(), "actor": ACTOR}
        await hub.commands.execute(COUNTER, "h1", lambda _: [CounterOpened(label="h")], **opening)

        async def office_holds_h1() -> bool:
            return bool(await subjects(office_nc, "lab.hq.counter.h1.>"))

        await eventually(office_holds_h1, "the hub's counter sourced by the office", 30)
        # The office lists the hub's counter as owed, but leaves it to the hub: before the
        # hub has answered, an office that reacted would open a second receipt of its own.
        assert [item.id for item in await owed(office, 10)] == ["h1"]
        assert await RECEIPTS.run_once(office) == 0
        assert await subjects(office_nc, "lab.parakou.>") == []
        assert await RECEIPTS.run_once(hub) == 1
        assert await RECEIPTS.run_once(hub) == 0

        async def receipt_sourced() -> bool:
            return bool(await subjects(office_nc, "lab.hq.counter.receipt-h1.>"))

        await eventually(receipt_sourced, "the hub's receipt sourced by the office", 30)
        assert await owed(office, 10) == []
        # The office's own counter is the office's to answer, and the hub never sees it
        # here (this office's stream is not linked at the hub).
        await office.commands.execute(
            COUNTER, "p1", lambda _: [CounterOpened(label="p")], **opening
        )
        assert await RECEIPTS.run_once(office) == 1
        assert await subjects(office_nc, "lab.parakou.counter.receipt-p1.>") != []
        assert len(await subjects(hub_nc, "lab.hq.counter.receipt-h1.>")) == 1

        # -- the transfer: the hub releases h1 to the office, the office takes it over ----
        def move(amount: int) -> list[CounterMoved]:
            return [CounterMoved(amount=amount, unit="u")]

        current = {"expect": Expect.current(), "actor": ACTOR}
        await hub.commands.execute(COUNTER, "h1", lambda _: move(3), **current)
        early = pytest.raises(Exception, match="not_released_to_this_site")
        with early:  # not released yet: nothing to take over
            await take_over(office.commands, COUNTER, "h1", TAKEN_OVER, "hq", actor=ACTOR)
        await release(hub.commands, COUNTER, "h1", RELEASED, "parakou", actor=ACTOR)
        with pytest.raises(OwnedElsewhere) as owned:  # the hub's to change no more
            await hub.commands.execute(COUNTER, "h1", lambda _: move(1), **current)
        assert owned.value.owner == "parakou"

        async def released_here() -> bool:
            return len(await subjects(office_nc, "lab.hq.counter.h1.>")) == 3

        await eventually(released_here, "the hub's release sourced by the office", 30)
        taken = await take_over(office.commands, COUNTER, "h1", TAKEN_OVER, "hq", actor=ACTOR)
        assert taken.changed and taken.state == Total(3)  # the hub's history, folded
        again = await take_over(office.commands, COUNTER, "h1", TAKEN_OVER, "hq", actor=ACTOR)
        assert not again.changed  # taken over once
        moved = await office.commands.execute(COUNTER, "h1", lambda _: move(4), **current)
        assert moved.state == Total(7)
        at_seen = await office.commands.execute(
            COUNTER, "h1", lambda _: move(1), expect=Expect.seen(moved.version), actor=ACTOR
        )
        assert at_seen.state == Total(8)
        here = await subjects(office_nc, "lab.parakou.counter.h1.>")
        assert [s.rsplit(".", 1)[1] for s in here] == [
            "OwnershipTakenOver", "CounterMoved", "CounterMoved"
        ]  # fmt: skip
        assert len(await subjects(hub_nc, "lab.hq.counter.h1.>")) == 3  # opened, 3, released
    assert time.monotonic() - started < 40
