"""A worker refers only their own agency's cases: referral learns who owns a case from
casework's CaseOpened events (never from casework's database)."""

from __future__ import annotations

import asyncio

from services.casework.events import CaseOpened
from shared.envelope import Actor, Aggregate
from shared.eventstore import EventStore
from shared.signing import SigningKey
from shared.streams import ensure_streams
from tests.referral.conftest import Service, referral_body, worker

CASEWORK_ACTOR = Actor(user="system:case-opener", agency="ocpm", role="system")


async def open_case(svc: Service, case_id: str, child_id: str, agency: str) -> None:
    nc = svc.runtime.nc
    await ensure_streams(nc.jetstream(), "hq", contexts=("casework",))
    store = EventStore(
        nc,
        key=SigningKey.generate(),
        source="/t/casework",
        site="hq",
        writable_contexts=("casework",),
    )
    opened = CaseOpened(
        case_id=case_id,
        child_id=child_id,
        sex="female",
        age_band="10-14",
        report_id="r-1",
        agency=agency,
        commune="bj-donga-djougou",
        concerns=["child_labour"],
        urgency="high",
        initial_risk="high",
        received_at="2026-11-23T08:00:00Z",
        registration_due_at="2026-11-24T08:00:00Z",
    )
    await store.append(
        Aggregate("casework", "hq", "case", case_id), 0, [opened], actor=CASEWORK_ACTOR
    )
    for _ in range(100):  # casework's events reach referral's read model shortly
        if await _known(svc, case_id):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("referral never learnt of the case")


async def _known(svc: Service, case_id: str) -> bool:
    from services.referral.cases import case_owner

    return await case_owner(svc.runtime.engine, case_id) is not None


async def test_another_agencys_case_cannot_be_referred(svc: Service) -> None:
    await open_case(svc, "case-b", "child-b", agency="police-parakou")
    answer = await svc.client.post(
        "/referrals",
        json=referral_body(case_id="case-b", child_id="child-b"),
        headers=worker(svc, lang="en"),
    )
    assert answer.status_code == 404, answer.text
    assert "case-b" not in answer.text and "police-parakou" not in answer.text


async def test_the_child_must_be_the_cases_child(svc: Service) -> None:
    await open_case(svc, "case-a", "child-a", agency="ocpm")
    wrong = await svc.client.post(
        "/referrals",
        json=referral_body(case_id="case-a", child_id="child-z"),
        headers=worker(svc, lang="en"),
    )
    assert wrong.status_code == 422
    assert wrong.json()["error"]["field"] == "child_id"
    right = await svc.client.post(
        "/referrals",
        json=referral_body(case_id="case-a", child_id="child-a"),
        headers=worker(svc),
    )
    assert right.status_code == 201, right.text
