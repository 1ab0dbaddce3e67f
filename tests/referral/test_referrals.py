"""Referrals over HTTP: each transition, each refusal, consent, shared fields, lists, access
records and retries."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from shared.access import access_outbox
from tests.referral.conftest import NO_IF_MATCH, Service, coordinator, referral_body, worker

pytestmark = pytest.mark.connected


async def refer(svc: Service, **overrides: Any) -> dict[str, Any]:
    answer = await svc.client.post(
        "/referrals", json=referral_body(**overrides), headers=worker(svc)
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


def reasons(answer: Any) -> dict[str, str]:
    return {f["field"]: f["reason"] for f in answer.json()["error"]["fields"]}


async def test_refer_accept_complete(svc: Service) -> None:
    made = await refer(svc)
    assert made["status"] == "made" and made["due_at"] == "2026-03-03T09:00:00Z"  # 24 h
    rid = made["referral_id"]
    accepted = await svc.client.post(f"/referrals/{rid}/accept", json={}, headers=coordinator(svc))
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"
    done = await svc.client.post(
        f"/referrals/{rid}/complete",
        json={"outcome": "Sheltered 5 nights"},
        headers=coordinator(svc),
    )
    assert done.status_code == 200 and done.json()["status"] == "completed"
    full = await svc.client.get(f"/referrals/{rid}", headers=worker(svc))
    assert full.json()["outcome"] == "Sheltered 5 nights"
    names = [e.event.name for e in await svc.runtime.store.load(_agg(svc, rid))]
    assert names == [
        "ReferralMade",
        "ReferralDetailsShared",
        "ReferralAccepted",
        "ReferralCompleted",
    ]


def _agg(svc: Service, rid: str) -> Any:
    from shared.envelope import Aggregate

    return Aggregate("referral", svc.runtime.settings.site, "referral", rid)


async def test_deadline_follows_urgency(svc: Service) -> None:
    high = await refer(svc, urgency="high")
    normal = await refer(svc, urgency="normal", case_id="case-2")
    assert high["due_at"] == "2026-03-05T09:00:00Z" and normal["due_at"] == "2026-03-09T09:00:00Z"


async def test_decline_with_a_suggestion_and_withdraw(svc: Service) -> None:
    rid = (await refer(svc, to_unit="djougou", service_kind="psychological"))["referral_id"]
    declined = await svc.client.post(
        f"/referrals/{rid}/decline",
        json={"reason": "Pas de psychologue", "suggested_unit": "transit"},
        headers=coordinator(svc, "djougou"),
    )
    assert declined.status_code == 200
    assert declined.json()["suggested_unit"] == "transit"
    other = (await refer(svc, case_id="case-2"))["referral_id"]
    withdrawn = await svc.client.post(
        f"/referrals/{other}/withdraw", json={"reason": "Famille retrouvée"}, headers=worker(svc)
    )
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn"


async def test_illegal_transitions_are_409_with_a_reason_in_both_languages(svc: Service) -> None:
    rid = (await refer(svc))["referral_id"]
    early = await svc.client.post(
        f"/referrals/{rid}/complete", json={"outcome": "x"}, headers=coordinator(svc)
    )
    assert early.status_code == 409 and early.json()["error"]["code"] == "illegal_transition"
    assert "ne peut pas être terminée" in early.json()["error"]["message"]
    await svc.client.post(f"/referrals/{rid}/withdraw", json={"reason": "x"}, headers=worker(svc))
    for action, body in (
        ("accept", {}),
        ("decline", {"reason": "x"}),
        ("complete", {"outcome": "x"}),
    ):
        answer = await svc.client.post(
            f"/referrals/{rid}/{action}", json=body, headers=coordinator(svc, lang="en")
        )
        assert answer.status_code == 409, action
        assert answer.json()["error"]["message"].startswith("This referral is withdrawn")
    again = await svc.client.post(
        f"/referrals/{rid}/withdraw", json={"reason": "x"}, headers=worker(svc)
    )
    assert again.status_code == 409


async def test_only_the_receiving_unit_answers_and_only_the_referrer_withdraws(
    svc: Service,
) -> None:
    rid = (await refer(svc))["referral_id"]
    # Whoever may not act on it is answered as if it did not exist: nothing confirms it does.
    wrong_unit = await svc.client.post(
        f"/referrals/{rid}/accept", json={}, headers=coordinator(svc, "djougou")
    )
    assert wrong_unit.status_code == 404
    as_worker = await svc.client.post(f"/referrals/{rid}/accept", json={}, headers=worker(svc))
    assert as_worker.status_code == 403  # the role never answers a referral
    other_agency = await svc.client.post(
        f"/referrals/{rid}/withdraw",
        json={"reason": "x"},
        headers=svc.headers("case_worker", agency="upe"),
    )
    assert other_agency.status_code == 404
    auditor = await svc.client.post(
        f"/referrals/{rid}/withdraw", json={"reason": "x"}, headers=svc.headers("auditor")
    )
    assert auditor.status_code == 403
    stats = await svc.client.get(f"/referrals/{rid}", headers=svc.headers("statistician"))
    assert stats.status_code == 403


async def test_consent_missing_or_incomplete_is_refused(svc: Service) -> None:
    body = referral_body()
    del body["consent"]
    answer = await svc.client.post("/referrals", json=body, headers=worker(svc, lang="en"))
    assert answer.status_code == 422 and reasons(answer) == {"consent": "This field is required."}
    for consent, words in (
        ({"given": True}, "who gave consent"),
        ({"given": True, "given_by": "child", "given_at": "yesterday"}, "date and time"),
        ({"given": True, "given_by": "child", "given_at": "2026-03-01T10:00:00"}, "time zone"),
        ({"given": False}, "why it was not sought"),
        ({"given": False, "reason_not_sought": "   "}, "why it was not sought"),
    ):
        answer = await svc.client.post(
            "/referrals", json=referral_body(consent=consent), headers=worker(svc, lang="en")
        )
        assert answer.status_code == 422, consent
        assert any(words in r for r in reasons(answer).values()), reasons(answer)
    french = await svc.client.post(
        "/referrals", json=referral_body(consent={"given": False}), headers=worker(svc)
    )
    assert "pas été recherché" in next(iter(reasons(french).values()))
    ok = await refer(
        svc, consent={"given": False, "reason_not_sought": "Child in immediate danger"}
    )
    assert ok["consent"]["given"] is False


async def test_bad_referrals_name_the_field(svc: Service) -> None:
    h = worker(svc, lang="en")
    for change, field in (
        ({"service_kind": "massage"}, "service_kind"),
        ({"urgency": "whenever"}, "urgency"),
        ({"shared_fields": ["child_name"]}, "shared_fields.0"),
        ({"nickname": "Ami"}, "nickname"),
        ({"details": {"child_age_band": "10-14", "address": "x"}}, "details.address"),
        ({"details": {"child_age_band": "20-30"}}, "details.child_age_band"),
        ({"case_id": "a.b"}, "case_id"),
    ):
        answer = await svc.client.post("/referrals", json=referral_body(**change), headers=h)
        assert answer.status_code == 422, change
        assert field in reasons(answer), (change, reasons(answer))
    unknown = await svc.client.post("/referrals", json=referral_body(to_unit="ghost"), headers=h)
    assert unknown.status_code == 422
    assert (unknown.json()["error"]["field"], unknown.json()["error"]["message"]) == (
        "to_unit",
        "Unknown unit.",
    )
    not_offered = await svc.client.post(
        "/referrals", json=referral_body(service_kind="medical"), headers=h
    )
    assert not_offered.json()["error"]["code"] == "service_not_offered"
    hidden = await svc.client.post(
        "/referrals",
        json=referral_body(shared_fields=["urgency"], details={"contact": "+229 97 00 00 00"}),
        headers=h,
    )
    assert hidden.status_code == 422 and "not shared: contact" in str(hidden.json())


async def test_the_receiving_unit_sees_only_the_shared_fields(svc: Service) -> None:
    rid = (
        await refer(
            svc,
            shared_fields=["child_age_band", "concerns"],
            details={"child_age_band": "10-14", "concerns": ["child_labour"]},
        )
    )["referral_id"]
    view = (await svc.client.get(f"/referrals/{rid}", headers=coordinator(svc))).json()
    child_facing = set(view) - {
        "referral_id",
        "status",
        "service_kind",
        "from_agency",
        "to_agency",
        "to_unit",
        "made_at",
        "due_at",
        "answered_at",
        "closed_at",
        "overdue",
        "escalated",
        "override_reason",
        "decline_reason",
        "suggested_unit",
        "outcome",
        "withdraw_reason",
        "version",
    }
    assert child_facing == {"child_age_band", "concerns"}
    assert view["concerns"] == ["child_labour"]
    for hidden in ("case_id", "child_id", "reason", "urgency", "consent", "child_sex", "details"):
        assert hidden not in view
    listed = (await svc.client.get("/referrals", headers=coordinator(svc))).json()["items"]
    assert set(listed[0]) == set(view)
    full = (await svc.client.get(f"/referrals/{rid}", headers=worker(svc))).json()
    assert full["case_id"] == "case-1" and full["reason"] == "Needs a safe bed tonight"


async def test_reads_are_recorded_and_strangers_see_nothing(svc: Service) -> None:
    rid = (await refer(svc))["referral_id"]
    stranger = await svc.client.get(f"/referrals/{rid}", headers=coordinator(svc, "djougou"))
    assert stranger.status_code == 404
    await svc.client.get(f"/referrals/{rid}", headers=coordinator(svc))
    await svc.client.get("/referrals", headers=svc.headers("auditor"))
    async with svc.runtime.engine.connect() as conn:
        rows = (await conn.execute(select(access_outbox))).all()
    assert sorted((r.role, r.record_id, r.purpose) for r in rows) == [
        ("auditor", rid, "referral.list"),
        ("unit_coordinator", rid, "referral.read"),
    ]


async def test_lists_are_scoped_filtered_and_paged(svc: Service) -> None:
    for n in range(5):
        await refer(svc, case_id=f"case-{n}")
    await refer(svc, case_id="legal", to_unit="cpu", service_kind="legal_aid")
    first = (await svc.client.get("/referrals?page_size=2", headers=worker(svc))).json()
    assert first["total"] == 6 and len(first["items"]) == 2
    third = (await svc.client.get("/referrals?page_size=2&page=3", headers=worker(svc))).json()
    assert len(third["items"]) == 2 and third["items"][0] not in first["items"]
    legal = (await svc.client.get("/referrals?service_kind=legal_aid", headers=worker(svc))).json()
    assert [i["case_id"] for i in legal["items"]] == ["legal"]
    by_unit = (await svc.client.get("/referrals?unit=cpu", headers=worker(svc))).json()
    assert by_unit["total"] == 1
    rid = first["items"][0]["referral_id"]
    await svc.client.post(f"/referrals/{rid}/accept", json={}, headers=coordinator(svc))
    accepted = (await svc.client.get("/referrals?status=accepted", headers=worker(svc))).json()
    assert [i["referral_id"] for i in accepted["items"]] == [rid]
    assert (await svc.client.get("/referrals?overdue=true", headers=worker(svc))).json()[
        "total"
    ] == 0
    mine = (await svc.client.get("/referrals", headers=coordinator(svc, "cpu"))).json()
    assert mine["total"] == 1
    elsewhere = (
        await svc.client.get("/referrals", headers=svc.headers("case_worker", agency="upe"))
    ).json()
    assert elsewhere["total"] == 0
    bad = await svc.client.get("/referrals?status=lost&page=0", headers=worker(svc, lang="en"))
    assert bad.status_code == 422 and set(reasons(bad)) == {"status", "page"}


async def test_retries_with_the_same_key_record_once(svc: Service) -> None:
    h = worker(svc, key="refer-1")
    first = await svc.client.post("/referrals", json=referral_body(), headers=h)
    second = await svc.client.post("/referrals", json=referral_body(), headers=h)
    assert first.status_code == second.status_code == 201
    rid = first.json()["referral_id"]
    assert second.json()["referral_id"] == rid
    # A retry sends what the first attempt sent: the same key and the same If-Match.
    accept = {**coordinator(svc, key="accept-1"), "If-Match": first.headers["ETag"]}
    one = await svc.client.post(f"/referrals/{rid}/accept", json={}, headers=accept)
    two = await svc.client.post(f"/referrals/{rid}/accept", json={}, headers=accept)
    assert one.status_code == two.status_code == 200, two.text
    names = [e.event.name for e in await svc.runtime.store.load(_agg(svc, rid))]
    assert names == ["ReferralMade", "ReferralDetailsShared", "ReferralAccepted"]
    unit = (await svc.client.get("/units/transit", headers=worker(svc))).json()
    assert unit["capacity"]["reserved"] == 1


async def test_an_answer_states_the_version_it_saw(svc: Service) -> None:
    made = await svc.client.post("/referrals", json=referral_body(), headers=worker(svc))
    rid, version = made.json()["referral_id"], made.json()["version"]
    assert made.headers["ETag"] == f'"{version}"'
    read = await svc.client.get(f"/referrals/{rid}", headers=coordinator(svc))
    assert read.headers["ETag"] == f'"{version}"'
    url = f"/referrals/{rid}/decline"
    body = {"reason": "Pas de place"}
    missing = await svc.client.post(
        url, json=body, headers={**coordinator(svc, lang="en"), NO_IF_MATCH: "1"}
    )
    assert missing.status_code == 428 and missing.json()["error"]["code"] == "version_required"
    stale = await svc.client.post(
        url, json=body, headers={**coordinator(svc), "If-Match": f'"{version - 1}"'}
    )
    assert stale.status_code == 409 and stale.json()["error"]["current_version"] == version
    declined = await svc.client.post(
        url, json=body, headers={**coordinator(svc), "If-Match": made.headers["ETag"]}
    )
    assert (
        declined.status_code == 200
        and declined.headers["ETag"] == f'"{declined.json()["version"]}"'
    )


async def test_the_preview_is_exactly_what_the_receiving_unit_then_sees(svc: Service) -> None:
    """``POST /referrals/preview`` stores nothing and shows the receiver's view of the body."""
    body = referral_body(
        shared_fields=["child_age_band", "concerns", "reason"],
        details={"child_age_band": "10-14", "concerns": ["child_labour"]},
    )
    shown = await svc.client.post("/referrals/preview", json=body, headers=worker(svc))
    assert shown.status_code == 200, shown.text
    listed = (await svc.client.get("/referrals", headers=worker(svc))).json()
    assert listed["total"] == 0  # nothing made
    rid = (await refer(svc, **body))["referral_id"]
    seen = (await svc.client.get(f"/referrals/{rid}", headers=coordinator(svc))).json()
    preview = shown.json()
    moving = {"referral_id", "version", "made_at"}
    assert {k: v for k, v in preview.items() if k not in moving} == {
        k: v for k, v in seen.items() if k not in moving
    }
    assert set(preview) == set(seen)
    refused = await svc.client.post(
        "/referrals/preview",
        json=referral_body(details={"contact": "+229 00 00 00 00"}),
        headers=worker(svc),
    )
    assert refused.status_code == 422
    other = await svc.client.post(
        "/referrals/preview", json=referral_body(), headers=coordinator(svc)
    )
    assert other.status_code == 403
