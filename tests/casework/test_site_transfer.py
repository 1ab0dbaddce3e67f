"""A case moved between two real sites (decision 0030): casework at the hub releases a case
to the office, the office's take-over inbox takes it over once the release has been sourced
(and the hub's never does), a change asked at the hub is then the office's (``OwnedElsewhere``
naming it: forwarded, or 503 while it cannot be reached), and the office changes the case on
its whole history."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from nats.aio.client import Client as NATS

from contracts import casework as ev
from services.casework import domain as d
from services.casework.app import cases
from services.casework.app.site_transfer import known_sites, site_taker
from shared.commands import Commands, Expect
from shared.envelope import Actor
from shared.nats_store import NatsEventStore
from shared.ownership import OwnedElsewhere
from shared.reading import iter_stored
from shared.signing import SigningKey
from tests.sites_support import eventually, two_sites

pytestmark = [pytest.mark.connected, pytest.mark.xdist_group("deployments")]

SUPERVISOR = Actor(user="sup-1", agency="ocpm", role="supervisor")
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
SITES = frozenset({"hq", "parakou"})


def ports_of(nc: NATS, site: str) -> Any:
    store = NatsEventStore(
        nc,
        key=SigningKey.generate(),
        source=f"/relais/{site}/casework/1",
        site=site,
        writable_contexts=("casework",),
    )
    return SimpleNamespace(
        commands=Commands(store, site=site),
        engine=None,
        settings=SimpleNamespace(site=site, casework_standards_file=None),
        clock=lambda: datetime.now(UTC),
    )


async def change(ports: Any, command: d.Command) -> Any:
    return await cases.run(ports, "case-1", command, expect=Expect.current(), actor=SUPERVISOR)


async def subjects(nc: NATS, pattern: str) -> list[str]:
    return [s.rsplit(".", 1)[1] async for _, s, _ in iter_stored(nc, "CASEWORK", pattern)]


OPEN = d.OpenCase(
    case_id="case-1",
    child_id="child-1",
    sex="female",
    age_band="10-14",
    report_id="r-1",
    agency="ocpm",
    unit=None,
    commune="cotonou",
    concerns=("neglect",),
    urgency="normal",
    immediate_danger=False,
    received_at=NOW,
)


async def test_a_case_released_at_the_hub_is_taken_over_and_changed_only_at_the_office(
    tmp_path: Path,
) -> None:
    started = time.monotonic()
    async with two_sites(tmp_path, context="casework") as (hub_nc, office_nc):
        hub, office = ports_of(hub_nc, "hq"), ports_of(office_nc, "parakou")
        # What each site knows of the others, from its stream's sources alone (no read model):
        # the office copies the hub; this hub was not linked back.
        assert await known_sites(office_nc, None) == {"hq"}
        assert await known_sites(hub_nc, None) == set()
        now = {"actor": SUPERVISOR}
        await cases.run(hub, "case-1", OPEN, expect=Expect.new(), **now)
        await change(hub, d.AddNote("n-1", "normal", "A call"))
        refused = pytest.raises(d.DomainError, match="same_site")
        with refused:  # the hub cannot release a case to itself
            await change(hub, d.ReleaseToSite("hq", "moved", "hq", SITES))
        released = await cases.run(
            hub,
            "case-1",
            d.ReleaseToSite("parakou", "The family moved north", "hq", SITES),
            expect=Expect.current(),
            **now,
        )
        assert [r.event.name for r in released.events] == ["CaseReleasedToSite"]

        # What the read model lists at both sites once the release is projected there.
        row = SimpleNamespace(case_id="case-1", site="hq", released_to="parakou")
        taker = site_taker()
        assert await taker.handle(hub, row) is None  # the releasing site never takes it over

        async def release_sourced() -> bool:
            return "CaseReleasedToSite" in await subjects(office_nc, "casework.hq.case.case-1.>")

        await eventually(release_sourced, "the hub's release sourced by the office", 30)
        taken = await taker.handle(office, row)
        assert taken is not None and [r.event.name for r in taken.events] == [
            "CaseTakenOverFromSite"
        ]
        taken_over = taken.events[0].event
        assert isinstance(taken_over, ev.CaseTakenOverFromSite)
        assert (taken_over.from_site, taken_over.released_id) == ("hq", released.events[0].id)
        again = await taker.handle(office, row)  # listed again before the projection settles it
        assert again is not None and again.duplicate  # taken over once: nothing written twice

        # A change asked at the hub is the office's now: forwarded to it, or refused naming it.
        with pytest.raises(OwnedElsewhere) as elsewhere:
            await change(hub, d.AddNote("n-2", "normal", "Late call"))
        assert elsewhere.value.owner == "parakou" and elsewhere.value.status == 503
        assert "parakou" in elsewhere.value.message.en and "parakou" in elsewhere.value.message.fr
        assert await subjects(hub_nc, "casework.hq.case.case-1.>") == [
            "CaseOpened", "CaseNoteAdded", "CaseReleasedToSite"
        ]  # fmt: skip

        # The office decides on the whole history: the hub's opening and note, then its own.
        noted = await cases.run(
            office,
            "case-1",
            d.AddNote("n-2", "normal", "Late call"),
            expect=Expect.current(),
            **now,
        )
        assert noted.state.exists and noted.state.case_id == "case-1"
        assert [r.event.name for r in noted.events] == ["CaseNoteAdded"]
        with pytest.raises(d.DomainError, match="former_site"):  # the hub's log holds its start
            await change(office, d.ReleaseToSite("hq", "back", "parakou", SITES))
        with pytest.raises(d.DomainError, match="same_site"):  # it is the office's own now
            await change(office, d.ReleaseToSite("parakou", "back", "parakou", SITES))
        assert await subjects(office_nc, "casework.parakou.case.case-1.>") == [
            "CaseTakenOverFromSite", "CaseNoteAdded"
        ]  # fmt: skip
    assert time.monotonic() - started < 40
