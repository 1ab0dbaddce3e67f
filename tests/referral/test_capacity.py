"""Capacity accounting through referrals, including accepts racing for the last places, and
the sweep that puts places right after a process died between its two appends."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from contracts.referral import (
    PlaceFreed,
    PlaceReleased,
    PlaceReserved,
    ReferralAccepted,
    ReferralCompleted,
)
from services.referral.app.capacity import RESTORED, capacity_sweep
from shared.envelope import Actor, Aggregate
from shared.events import DomainEvent
from tests.referral.conftest import Service, Starter, coordinator, referral_body, seed, worker

pytestmark = pytest.mark.connected


def sweep_of(svc: Service) -> Any:
    """The capacity sweep as the service runs it, with the test's settings."""
    return capacity_sweep(lambda _: svc.config)


async def refer_many(svc: Service, n: int) -> list[str]:
    ids = []
    for i in range(n):
        answer = await svc.client.post(
            "/referrals", json=referral_body(case_id=f"case-{i}"), headers=worker(svc)
        )
        assert answer.status_code == 201
        ids.append(answer.json()["referral_id"])
    return ids


async def capacity(svc: Service, unit: str = "transit") -> dict[str, Any]:
    answer = await svc.client.get(f"/units/{unit}", headers=worker(svc))
    result: dict[str, Any] = answer.json()["capacity"]
    return result


async def test_accept_reserves_complete_and_withdraw_release(svc: Service) -> None:
    a, b = await refer_many(svc, 2)
    for rid in (a, b):
        assert (
            await svc.client.post(f"/referrals/{rid}/accept", json={}, headers=coordinator(svc))
        ).status_code == 200
    assert (await capacity(svc))["available"] == 0
    await svc.client.post(
        f"/referrals/{a}/complete", json={"outcome": "ok"}, headers=coordinator(svc)
    )
    assert (await capacity(svc))["available"] == 1
    await svc.client.post(f"/referrals/{b}/withdraw", json={"reason": "moved"}, headers=worker(svc))
    assert (await capacity(svc)) | {"version": 0} == {
        "total": 2,
        "occupied_outside": 0,
        "reserved": 0,
        "held": 0,
        "available": 2,
        "version": 0,
    }


async def test_a_full_unit_accepts_only_with_an_override_reason(svc: Service) -> None:
    a, b, c = await refer_many(svc, 3)
    for rid in (a, b):
        await svc.client.post(f"/referrals/{rid}/accept", json={}, headers=coordinator(svc))
    full = await svc.client.post(f"/referrals/{c}/accept", json={}, headers=coordinator(svc))
    assert full.status_code == 409 and full.json()["error"]["code"] == "unit_full"
    assert "motif de dépassement" in full.json()["error"]["message"]
    still = await svc.client.get(f"/referrals/{c}", headers=worker(svc))
    assert still.json()["status"] == "made"
    forced = await svc.client.post(
        f"/referrals/{c}/accept",
        json={"capacity_override_reason": "Danger immédiat, lit d'appoint"},
        headers=coordinator(svc),
    )
    assert forced.status_code == 200 and forced.json()["override_reason"].startswith("Danger")
    assert (await capacity(svc))["reserved"] == 3


async def test_withdrawing_an_unanswered_referral_releases_nothing(svc: Service) -> None:
    [rid] = await refer_many(svc, 1)
    await svc.client.put(
        "/units/transit/capacity", json={"total": 1}, headers=svc.headers("agency_admin")
    )
    await svc.client.post(f"/referrals/{rid}/withdraw", json={"reason": "x"}, headers=worker(svc))
    assert (await capacity(svc))["available"] == 1


async def test_concurrent_accepts_never_overbook(start_service: Starter) -> None:
    one = await start_service("1")
    two = await start_service("2")
    await seed(one)
    ids = await refer_many(one, 6)
    answers = await asyncio.gather(
        *(
            (one if i % 2 else two).client.post(
                f"/referrals/{rid}/accept", json={}, headers=coordinator(one)
            )
            for i, rid in enumerate(ids)
        )
    )
    codes = sorted(a.status_code for a in answers)
    assert codes == [200, 200, 409, 409, 409, 409], [a.text for a in answers]
    assert {a.json()["error"]["code"] for a in answers if a.status_code == 409} == {"unit_full"}
    assert (await capacity(one)) | {"version": 0} == {
        "total": 2,
        "occupied_outside": 0,
        "reserved": 2,
        "held": 0,
        "available": 0,
        "version": 0,
    }
    accepted = (await one.client.get("/referrals?status=accepted", headers=worker(one))).json()
    assert accepted["total"] == 2


async def test_concurrent_accepts_of_the_same_referral_reserve_one_place(svc: Service) -> None:
    [rid] = await refer_many(svc, 1)
    answers = await asyncio.gather(
        *(
            svc.client.post(f"/referrals/{rid}/accept", json={}, headers=coordinator(svc))
            for _ in range(3)
        )
    )
    assert sorted(a.status_code for a in answers) == [200, 409, 409]
    assert (await capacity(svc))["reserved"] == 1


# -- places held by hand ---------------------------------------------------------------------


async def test_a_coordinator_holds_and_releases_a_place_by_hand(svc: Service) -> None:
    mine = coordinator(svc)
    listed = await svc.client.get("/units/transit/holds", headers=mine)
    assert listed.status_code == 200 and listed.json()["holds"] == []
    version = listed.headers["ETag"]
    body = {"note": "Placé par le juge hors Relais", "until": "2099-01-31"}
    assert (
        await svc.client.post("/units/transit/holds", json=body, headers=mine)
    ).status_code == 428
    past = await svc.client.post(
        "/units/transit/holds",
        json={"note": "x", "until": "2000-01-01"},
        headers={**mine, "If-Match": version},
    )
    assert past.status_code == 422 and past.json()["error"]["field"] == "until"
    keyed = {**mine, "If-Match": version, "Idempotency-Key": "hold-1"}
    held = await svc.client.post("/units/transit/holds", json=body, headers=keyed)
    assert held.status_code == 201, held.text
    again = await svc.client.post("/units/transit/holds", json=body, headers=keyed)
    assert again.status_code == 201 and again.json()["holds"] == held.json()["holds"]
    [hold] = held.json()["holds"]
    assert hold["note"] == body["note"] and hold["until"] == "2099-01-31"
    assert held.json()["capacity"] | {"version": 0} == {
        "total": 2,
        "occupied_outside": 0,
        "reserved": 0,
        "held": 1,
        "available": 1,
        "version": 0,
    }
    # The held place counts: one referral fills the unit, the next needs an override.
    a, b = await refer_many(svc, 2)
    assert (
        await svc.client.post(f"/referrals/{a}/accept", json={}, headers=mine)
    ).status_code == 200
    full = await svc.client.post(f"/referrals/{b}/accept", json={}, headers=mine)
    assert full.status_code == 409 and full.json()["error"]["code"] == "unit_full"
    now = (await svc.client.get("/units/transit/holds", headers=mine)).headers["ETag"]
    no_room = await svc.client.post(
        "/units/transit/holds", json={"note": "un de plus"}, headers={**mine, "If-Match": now}
    )
    assert no_room.status_code == 409 and no_room.json()["error"]["code"] == "unit_full"
    # Another unit's coordinator sees neither the notes nor the button's effect.
    other = coordinator(svc, "djougou")
    assert (await svc.client.get("/units/transit/holds", headers=other)).status_code == 404
    freed = await svc.client.post(
        f"/units/transit/holds/{hold['hold_id']}/release",
        headers={**mine, "If-Match": now},
    )
    assert freed.status_code == 200, freed.text
    assert freed.json()["holds"] == [] and freed.json()["capacity"]["available"] == 1
    twice = await svc.client.post(
        f"/units/transit/holds/{hold['hold_id']}/release",
        headers={**mine, "If-Match": freed.headers["ETag"]},
    )
    assert twice.status_code == 404 and twice.json()["error"]["code"] == "hold_not_found"
    assert (await capacity(svc))["held"] == 0


async def test_a_place_held_by_hand_is_freed_after_its_last_day(svc: Service) -> None:
    mine = coordinator(svc)
    tomorrow = svc.config.local(datetime.now(UTC)).date() + timedelta(days=1)
    version = (await svc.client.get("/units/transit/holds", headers=mine)).headers["ETag"]
    for hold_id, until in (("ends", tomorrow.isoformat()), ("open-ended", None)):
        held = await svc.client.post(
            "/units/transit/holds",
            json={"note": "Placé par le juge hors Relais", "until": until},
            headers={**mine, "If-Match": version, "Idempotency-Key": hold_id},
        )
        assert held.status_code == 201, held.text
        version = held.headers["ETag"]
    assert (await capacity(svc))["held"] == 2
    # Its last day is still held, whatever the hour.
    assert await sweep_of(svc).run_once(svc.runtime, later(60 * 24)) == 0
    # The day after, the sweep frees it (once, however often it runs); the other stays.
    assert await sweep_of(svc).run_once(svc.runtime, later(60 * 48)) == 1
    assert await sweep_of(svc).run_once(svc.runtime, later(60 * 48)) == 0
    holds = (await svc.client.get("/units/transit/holds", headers=mine)).json()["holds"]
    assert [h["until"] for h in holds] == [None]
    assert (await capacity(svc))["held"] == 1
    events = await svc.runtime.store.load(Aggregate("referral", "hq", "capacity", "transit"))
    freed = [e for e in events if isinstance(e.event, PlaceFreed)]
    assert len(freed) == 1 and freed[0].actor.user.startswith("system")


async def test_a_unit_that_does_not_count_places_holds_none(svc: Service) -> None:
    admin = svc.headers("agency_admin", agency="ocpm")
    body = {"agency_id": "ocpm", "name": "Ligne", "commune": "bj-littoral-cotonou"}
    body |= {"service_kinds": ["legal_aid"], "opening_hours": {}}
    assert (await svc.client.put("/units/line", json=body, headers=admin)).status_code == 200
    refused = await svc.client.post(
        "/units/line/holds", json={"note": "x"}, headers={**admin, "If-Match": '"0"'}
    )
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["code"] == "capacity_not_counted"


# -- after an interruption -------------------------------------------------------------------

COORDINATOR = Actor(user="coord", agency="ocpm", role="unit_coordinator")


async def append(svc: Service, kind: str, ident: str, event: DomainEvent) -> None:
    """Write straight to the log what a process wrote before it died."""
    aggregate = Aggregate("referral", svc.runtime.settings.site, kind, ident)
    stored = await svc.runtime.store.load(aggregate)
    await svc.runtime.commit(aggregate, stored[-1].seq if stored else 0, [event], actor=COORDINATOR)


async def place_events(svc: Service, unit: str = "transit") -> list[tuple[str, str, str]]:
    aggregate = Aggregate("referral", svc.runtime.settings.site, "capacity", unit)
    out = []
    for recorded in await svc.runtime.store.load(aggregate):
        event = recorded.event
        if isinstance(event, PlaceReserved):
            out.append(("reserved", event.referral_id, event.override_reason or ""))
        elif isinstance(event, PlaceReleased):
            out.append(("released", event.referral_id, event.because))
    return out


def later(minutes: float) -> datetime:
    # Reservations carry the time they were written (the real clock), like the sweep's default.
    return datetime.now(UTC) + timedelta(minutes=minutes)


async def test_a_place_left_by_an_interrupted_accept_is_released_once(
    start_service: Starter,
) -> None:
    one = await start_service("1")
    two = await start_service("2")
    await seed(one)
    [rid] = await refer_many(one, 1)
    # The accept reserved its place, then the process died before recording the acceptance.
    await append(one, "capacity", "transit", PlaceReserved(unit_id="transit", referral_id=rid))
    assert (await capacity(one))["reserved"] == 1
    assert await sweep_of(one).run_once(one.runtime, later(0)) == 0  # an accept may be on its way
    fired = await asyncio.gather(
        sweep_of(one).run_once(one.runtime, later(11)),
        sweep_of(two).run_once(two.runtime, later(11)),
    )
    assert sorted(fired) == [0, 1]
    assert await place_events(one) == [
        ("reserved", rid, ""),
        ("released", rid, "not_accepted"),
    ]
    assert (await capacity(one))["available"] == 2
    # The referral still waits for an answer, and accepting it takes a place again.
    accepted = await one.client.post(f"/referrals/{rid}/accept", json={}, headers=coordinator(one))
    assert accepted.status_code == 200
    assert (await capacity(one))["reserved"] == 1
    assert await sweep_of(two).run_once(two.runtime, later(60)) == 0


async def test_interrupted_answers_and_closures_are_put_right(svc: Service) -> None:
    placeless, completed, declined = await refer_many(svc, 3)
    # Accepted, but the place was never taken (its reservation released under it).
    await append(
        svc,
        "referral",
        placeless,
        ReferralAccepted(referral_id=placeless, case_id="case-0", to_unit="transit"),
    )
    # Completed, and the process died before giving the place back.
    await svc.client.post(f"/referrals/{completed}/accept", json={}, headers=coordinator(svc))
    await append(
        svc,
        "referral",
        completed,
        ReferralCompleted(referral_id=completed, case_id="case-1", outcome="ok"),
    )
    # Declined after an accept that died between its two appends.
    await append(svc, "capacity", "transit", PlaceReserved(unit_id="transit", referral_id=declined))
    answer = await svc.client.post(
        f"/referrals/{declined}/decline", json={"reason": "No bed"}, headers=coordinator(svc)
    )
    assert answer.status_code == 200
    assert (await capacity(svc))["reserved"] == 2
    assert await sweep_of(svc).run_once(svc.runtime, later(5)) == 0
    assert await sweep_of(svc).run_once(svc.runtime, later(11)) == 3
    events = await place_events(svc)
    assert ("released", completed, "completed") in events
    assert ("released", declined, "not_accepted") in events
    assert events[-1] == ("reserved", placeless, RESTORED)
    assert (await capacity(svc))["reserved"] == 1
    assert await sweep_of(svc).run_once(svc.runtime, later(30)) == 0
