"""A worker refers only their own agency's cases: referral learns who owns a case from
casework's CaseOpened and TransferAccepted events (never from casework's database)."""

from __future__ import annotations

import pytest

from tests.referral.casework_log import Casework
from tests.referral.conftest import Service, referral_body, worker

pytestmark = pytest.mark.connected


async def open_case(svc: Service, case_id: str, child_id: str, agency: str) -> None:
    await Casework(svc).open_case(case_id, child_id, agency)


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


async def test_a_transfer_moves_the_right_to_refer_to_the_new_agency(svc: Service) -> None:
    casework = Casework(svc)
    await casework.open_case("case-t", "child-t", agency="ocpm")
    body = referral_body(
        case_id="case-t", child_id="child-t", to_unit="djougou", service_kind="psychological"
    )
    before = await svc.client.post("/referrals", json=body, headers=worker(svc))
    assert before.status_code == 201, before.text
    await casework.transfer("case-t", from_agency="ocpm", to_agency="upe")
    old = await svc.client.post("/referrals", json=body, headers=worker(svc, lang="en"))
    assert old.status_code == 404 and old.json()["error"]["code"] == "not_found"
    assert "upe" not in old.text
    new = await svc.client.post(
        "/referrals", json=body, headers=svc.headers("case_worker", agency="upe")
    )
    assert new.status_code == 201, new.text
    assert new.json()["from_agency"] == "upe"


async def test_a_cases_referrals_follow_it_to_the_new_agency(svc: Service) -> None:
    casework = Casework(svc)
    await casework.open_case("case-f", "child-f", agency="ocpm")
    body = referral_body(
        case_id="case-f", child_id="child-f", to_unit="djougou", service_kind="psychological"
    )
    made = await svc.client.post("/referrals", json=body, headers=worker(svc))
    assert made.status_code == 201, made.text
    referral_id = made.json()["referral_id"]
    old_worker, new_worker = worker(svc), svc.headers("case_worker", agency="upe")

    async def listed(headers: dict[str, str]) -> list[str]:
        answer = await svc.client.get("/referrals?case_id=case-f", headers=headers)
        assert answer.status_code == 200, answer.text
        return [r["referral_id"] for r in answer.json()["items"]]

    assert await listed(old_worker) == [referral_id] and await listed(new_worker) == []
    await casework.transfer("case-f", from_agency="ocpm", to_agency="upe")

    # The new owner sees the referral whole and may withdraw it; the old one sees nothing.
    assert await listed(new_worker) == [referral_id] and await listed(old_worker) == []
    seen = await svc.client.get(f"/referrals/{referral_id}", headers=new_worker)
    assert seen.status_code == 200 and seen.json()["reason"] == body["reason"]
    assert (
        await svc.client.get(f"/referrals/{referral_id}", headers=old_worker)
    ).status_code == 404
    refused = await svc.client.post(
        f"/referrals/{referral_id}/withdraw", json={"reason": "moved"}, headers=old_worker
    )
    assert refused.status_code in (403, 404)
    withdrawn = await svc.client.post(
        f"/referrals/{referral_id}/withdraw", json={"reason": "Family moved"}, headers=new_worker
    )
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["status"] == "withdrawn"
