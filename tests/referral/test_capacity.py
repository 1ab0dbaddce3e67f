"""Capacity accounting through referrals, including accepts racing for the last places."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.referral.conftest import Service, Starter, coordinator, referral_body, seed, worker


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
    assert (await capacity(svc)) == {
        "total": 2,
        "occupied_outside": 0,
        "reserved": 0,
        "available": 2,
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
    assert (await capacity(one)) == {
        "total": 2,
        "occupied_outside": 0,
        "reserved": 2,
        "available": 0,
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
