"""Referrals casework asks for from case plans: each ReferralRequested becomes ReferralMade
under casework's id, or ReferralRequestRefused with the reason in French and English, exactly
once, with the rules of the HTTP API."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select

from contracts.casework import RequestedConsent
from contracts.referral import ReferralDetailsShared, ReferralMade, ReferralRequestRefused
from services.referral.app.requests import answer, answer_pending_once
from services.referral.read.cases import referral_requests
from shared.envelope import Aggregate
from shared.recorded import RecordedEvent
from tests.referral.casework_log import Casework, eventually
from tests.referral.conftest import Service, Starter, coordinator, seed, worker


async def stored(svc: Service, rid: str) -> list[RecordedEvent]:
    aggregate = Aggregate("referral", svc.runtime.settings.site, "referral", rid)
    return list(await svc.runtime.store.load(aggregate))


async def refusal(svc: Service, rid: str) -> ReferralRequestRefused:
    [only] = await stored(svc, rid)
    assert isinstance(only.event, ReferralRequestRefused), only.event
    return only.event


async def test_a_plan_action_becomes_the_referral_casework_named(svc: Service) -> None:
    casework = Casework(svc)
    await casework.open_case("case-a", "child-a", concerns=["child_labour", "neglect"])
    request = await casework.request(
        "case-a",
        "ref-1",
        shared_fields=["child_age_band", "child_sex", "concerns", "urgency", "contact"],
    )
    assert await answer_pending_once(svc.runtime, svc.config) == 2
    made, details = await stored(svc, "ref-1")
    assert isinstance(made.event, ReferralMade)
    assert (made.event.referral_id, made.event.case_id, made.event.child_id) == (
        "ref-1",
        "case-a",
        "child-a",
    )
    assert (made.event.to_agency, made.event.due_at) == ("ocpm", "2026-03-03T09:00:00Z")
    assert made.envelope["causationid"] == request.id and made.actor.user == "awa"
    # What referral can read from the case is shared; a contact it cannot know stays unset.
    assert isinstance(details.event, ReferralDetailsShared)
    assert details.event.model_dump(exclude={"referral_id"}) == {
        "child_age_band": "10-14",
        "child_sex": "female",
        "concerns": ["child_labour", "neglect"],
        "contact": None,
    }
    full = (await svc.client.get("/referrals/ref-1", headers=worker(svc))).json()
    assert full["status"] == "made" and full["made_by"] == "awa"
    shared = (await svc.client.get("/referrals/ref-1", headers=coordinator(svc))).json()
    assert shared["child_sex"] == "female" and "child_id" not in shared
    async with svc.runtime.engine.connect() as conn:
        status = (await conn.execute(select(referral_requests.c.status))).scalar()
    assert status == "done"
    assert await answer_pending_once(svc.runtime, svc.config) == 0


async def test_nothing_unshared_is_read_from_the_case(svc: Service) -> None:
    casework = Casework(svc)
    await casework.open_case("case-a", "child-a", sex="self-described")
    await casework.request("case-a", "ref-1", shared_fields=["child_sex", "urgency"])
    await answer_pending_once(svc.runtime, svc.config)
    _, details = await stored(svc, "ref-1")
    # A sex casework recorded in another form is left out rather than refusing the request.
    assert details.event.model_dump(exclude_none=True) == {"referral_id": "ref-1"}


BAD_REQUESTS: list[tuple[str, dict[str, Any], str, str, str]] = [
    ("unknown-unit", {"to_unit": "ghost"}, "unknown_unit", "to_unit: Unknown unit.", "inconnue"),
    (
        "not-offered",
        {"service_kind": "medical"},
        "service_not_offered",
        "service_kind: The unit does not offer this service.",
        "n'offre pas",
    ),
    ("from-unit", {"from_unit": "ghost"}, "unknown_unit", "from_unit: Unknown unit.", "from_unit"),
    (
        "no-consent-giver",
        {"consent": RequestedConsent(given=True)},
        "invalid_request",
        "who gave consent",
        "qui a donné",
    ),
    (
        "no-reason-not-sought",
        {"consent": RequestedConsent(given=False, reason_not_sought="  ")},
        "invalid_request",
        "why it was not sought",
        "pas été recherché",
    ),
    (
        "bad-shared-field",
        {"shared_fields": ["child_name"]},
        "invalid_request",
        "shared_fields.0:",
        "shared_fields.0 :",
    ),
    ("bad-urgency", {"urgency": "whenever"}, "invalid_request", "urgency: Unknown", "Urgence"),
    ("empty-reason", {"reason": ""}, "invalid_request", "reason: Too short", "Trop court"),
    (
        "other-child",
        {"child_id": "child-z"},
        "child_not_in_case",
        "child_id: This child is not the child of this case.",
        "n'est pas celui",
    ),
    (
        "other-agency",
        {"from_agency": "upe"},
        "case_of_another_agency",
        "belongs to another agency",
        "autre structure",
    ),
]


async def test_requests_that_break_a_rule_are_refused_with_the_reason(svc: Service) -> None:
    casework = Casework(svc)
    await casework.open_case("case-a", "child-a")
    for rid, change, *_ in BAD_REQUESTS:
        await casework.request("case-a", rid, wait=False, **change)
    await casework.request("case-a", "good")
    assert await answer_pending_once(svc.runtime, svc.config) == len(BAD_REQUESTS) + 2
    for rid, _, code, english, french in BAD_REQUESTS:
        refused = await refusal(svc, rid)
        assert (refused.referral_id, refused.case_id, refused.action_id) == (
            rid,
            "case-a",
            f"action-{rid}",
        )
        assert refused.code == code, (rid, refused)
        assert english in refused.message_en and french in refused.message_fr, (rid, refused)
        unseen = await svc.client.get(f"/referrals/{rid}", headers=worker(svc))
        assert unseen.status_code == 404  # a refusal is no referral
    assert [type(e.event) for e in await stored(svc, "good")] == [
        ReferralMade,
        ReferralDetailsShared,
    ]


async def test_an_id_no_aggregate_can_carry_is_left_alone(svc: Service) -> None:
    casework = Casework(svc)
    await casework.open_case("case-a", "child-a")
    await casework.request("case-a", "bad.id")
    assert await answer_pending_once(svc.runtime, svc.config) == 0


async def test_two_instances_answer_each_request_once(start_service: Starter) -> None:
    one = await start_service("1")
    two = await start_service("2")
    await seed(one)
    casework = Casework(one)
    await casework.open_case("case-a", "child-a")
    for n in range(3):
        await casework.request("case-a", f"ok-{n}", wait=False)
    await casework.request("case-a", "refused", to_unit="ghost")
    async with one.runtime.engine.connect() as conn:
        before = (await conn.execute(select(referral_requests))).all()
    written = await asyncio.gather(
        answer_pending_once(one.runtime, one.config),
        answer_pending_once(two.runtime, two.config),
    )
    assert sum(written) == 3 * 2 + 1
    # A stale instance, or this one restarted after appending and before its row was seen
    # answered, tries again with what it read then: nothing is added.
    for row in before:
        assert await answer(two.runtime, two.config, row) == 0
    assert await answer_pending_once(two.runtime, two.config) == 0
    for n in range(3):
        assert len(await stored(one, f"ok-{n}")) == 2
    assert len(await stored(one, "refused")) == 1


async def test_the_background_loop_answers_on_its_own(start_service: Starter) -> None:
    one = await start_service("1", background=True)
    await start_service("2", background=True)
    await seed(one)
    casework = Casework(one)
    await casework.open_case("case-a", "child-a")
    await casework.request("case-a", "ref-bg", wait=False)

    async def made() -> bool:
        return len(await stored(one, "ref-bg")) == 2

    await eventually(made, "the referral is made")
    await asyncio.sleep(0.2)  # give a double answer the chance to show
    assert len(await stored(one, "ref-bg")) == 2


async def test_a_transferred_case_is_referred_by_its_new_agency_only(svc: Service) -> None:
    casework = Casework(svc)
    await casework.open_case("case-t", "child-a", agency="ocpm")
    await casework.transfer("case-t", from_agency="ocpm", to_agency="upe")
    await casework.request("case-t", "from-old", from_agency="ocpm", wait=False)
    await casework.request("case-t", "from-new", from_agency="upe")
    await answer_pending_once(svc.runtime, svc.config)
    assert (await refusal(svc, "from-old")).code == "case_of_another_agency"
    made = (await stored(svc, "from-new"))[0].event
    assert isinstance(made, ReferralMade) and made.from_agency == "upe"


async def test_another_sites_requests_are_left_to_that_site(svc: Service) -> None:
    # As if the hub's stream sourced a regional office's events (see deploy/).
    js = svc.runtime.nc.jetstream()
    config = (await js.stream_info("CASEWORK")).config
    config.subjects = [*config.subjects, "casework.parakou.>"]
    await js.update_stream(config)
    parakou = Casework(svc, site="parakou")
    await parakou.open_case("case-p", "child-a")
    await parakou.request("case-p", "ref-p")
    assert await answer_pending_once(svc.runtime, svc.config) == 0
    assert await stored(svc, "ref-p") == []
