"""The deadline policy: overdue, then escalated to the unit's supervisor, exactly once each,
even with two instances firing at the same moment. The clock is the test's."""

from __future__ import annotations

import asyncio

from services.referral.app.deadlines import DeadlinePolicy
from shared.envelope import Aggregate
from tests.referral.conftest import Service, Starter, coordinator, referral_body, seed, worker


async def refer(svc: Service, **overrides: object) -> str:
    answer = await svc.client.post(
        "/referrals", json=referral_body(**overrides), headers=worker(svc)
    )
    assert answer.status_code == 201
    return str(answer.json()["referral_id"])


async def names(svc: Service, rid: str) -> list[str]:
    aggregate = Aggregate("referral", svc.runtime.settings.site, "referral", rid)
    return [e.event.name for e in await svc.runtime.store.load(aggregate)]


async def test_overdue_then_escalated_once_each_with_two_instances(start_service: Starter) -> None:
    one = await start_service("1")
    two = await start_service("2")
    await seed(one)
    rid = await refer(one)  # emergency: due in 24 h
    answered = await refer(one, case_id="case-2")
    await one.client.post(f"/referrals/{answered}/accept", json={}, headers=coordinator(one))
    policies = [DeadlinePolicy(one.config), DeadlinePolicy(two.config)]

    one.clock.advance(hours=23, minutes=59)
    assert await asyncio.gather(
        *(p.run_once(s.runtime) for p, s in zip(policies, (one, two), strict=True))
    ) == [
        0,
        0,
    ]

    one.clock.advance(minutes=1)
    fired = await asyncio.gather(
        *(p.run_once(s.runtime) for p, s in zip(policies, (one, two), strict=True))
    )
    assert sorted(fired) == [0, 1]
    assert await names(one, rid) == ["ReferralMade", "ReferralDetailsShared", "ReferralOverdue"]
    overdue = (await one.client.get("/referrals?overdue=true", headers=worker(one))).json()
    assert [i["referral_id"] for i in overdue["items"]] == [rid]

    one.clock.advance(hours=12)
    for _ in range(2):  # and again: nothing more
        await asyncio.gather(
            *(p.run_once(s.runtime) for p, s in zip(policies, (one, two), strict=True))
        )
    events = await names(one, rid)
    assert events.count("ReferralOverdue") == 1 and events.count("ReferralEscalated") == 1
    view = (await one.client.get(f"/referrals/{rid}", headers=worker(one))).json()
    assert view["escalated"] and view["escalated_to"] == "sup-ocpm"
    assert await names(one, answered) == [
        "ReferralMade",
        "ReferralDetailsShared",
        "ReferralAccepted",
    ]


async def test_the_background_loops_fire_on_their_own(start_service: Starter) -> None:
    one = await start_service("1", background=True)
    two = await start_service("2", background=True)
    await seed(one)
    rid = await refer(one, urgency="high", to_unit="djougou", service_kind="psychological")
    one.clock.advance(hours=72 + 12)
    for _ in range(200):
        if "ReferralEscalated" in await names(two, rid):
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)  # give a double firing the chance to show
    events = await names(two, rid)
    assert events.count("ReferralOverdue") == 1 and events.count("ReferralEscalated") == 1
    view = (await one.client.get(f"/referrals/{rid}", headers=worker(one))).json()
    assert view["escalated_to"] is None  # the Djougou unit names no supervisor


async def test_an_answer_after_overdue_stops_escalation(svc: Service) -> None:
    rid = await refer(svc)
    policy = DeadlinePolicy(svc.config)
    svc.clock.advance(hours=24)
    assert await policy.run_once(svc.runtime) == 1
    accepted = await svc.client.post(f"/referrals/{rid}/accept", json={}, headers=coordinator(svc))
    assert accepted.status_code == 200 and accepted.json()["overdue"] is True
    svc.clock.advance(hours=48)
    assert await policy.run_once(svc.runtime) == 0
    assert "ReferralEscalated" not in await names(svc, rid)
