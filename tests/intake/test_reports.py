"""Registering, screening, amending, listing and reading reports through the API."""

from __future__ import annotations

import asyncio

from contracts.intake import ReportAccepted, ReportAmended, ReportScreened
from shared.access import access_outbox
from shared.envelope import Aggregate
from tests.intake.conftest import Intake, ago, describe_unit, report_body


async def _events(intake: Intake, kind: str, id_: str) -> list:
    return await intake.runtime.store.load(Aggregate("intake", "hq", kind, id_))


async def test_register_a_minimal_report_then_read_it(intake: Intake) -> None:
    operator = intake.as_("hotline_operator")
    answer = await operator.post("/reports", report_body())
    assert answer.status_code == 201, answer.text
    created = answer.json()
    assert created["status"] == "received" and created["urgency"] == "normal"
    assert len(created["children"]) == 1
    read = await operator.get(f"/reports/{created['report_id']}")
    assert read.status_code == 200
    body = read.json()
    assert body["document"]["children"][0]["name"] == "Fatoumata Diallo"
    assert body["status"] == "received" and body["overdue"] is False
    async with intake.runtime.engine.connect() as conn:
        rows = (await conn.execute(access_outbox.select())).all()
    assert [(r.record_type, r.record_id) for r in rows] == [("report", created["report_id"])]


async def test_several_children_each_get_a_child_record(intake: Intake) -> None:
    children = [
        {"name": "Kossi Agbodjan", "sex": "male", "age_years": 9},
        {"alias": "Petit", "sex": "male", "age_range": {"min": 6, "max": 8}},
        {"unidentified": True},
    ]
    answer = await intake.as_("intake_officer").post(
        "/reports",
        report_body(
            children=children, immediate_danger=True, concerns=["trafficking_labour_other"]
        ),
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["urgency"] == "emergency"  # in danger: a 24-hour deadline
    ids = [c["child_id"] for c in answer.json()["children"]]
    assert len(set(ids)) == 3
    for child_id in ids:
        recorded = await _events(intake, "child", child_id)
        assert recorded[0].event.name == "ChildRecorded"


async def test_idempotency_key_makes_a_retry_store_nothing_new(intake: Intake) -> None:
    operator = intake.as_("hotline_operator")
    first = await operator.post("/reports", report_body(), **{"Idempotency-Key": "call-42"})
    again = await operator.post("/reports", report_body(), **{"Idempotency-Key": "call-42"})
    assert first.status_code == again.status_code == 201
    assert first.json()["report_id"] == again.json()["report_id"]
    assert len(await _events(intake, "report", first.json()["report_id"])) == 1
    child_id = first.json()["children"][0]["child_id"]
    assert len(await _events(intake, "child", child_id)) == 1
    listed = await operator.get("/reports")
    assert listed.json()["total"] == 1


async def test_a_unit_of_another_agency_in_a_token_is_refused(intake: Intake) -> None:
    await describe_unit(intake, "cotonou", "ocpm")
    created = (await intake.as_("hotline_operator").post("/reports", report_body())).json()
    for agency, unit in (("police-b", "cotonou"), ("ocpm", "nowhere")):
        stranger = intake.as_("screener", user="s-2", agency=agency, unit=unit)
        answer = await stranger.get(f"/reports/{created['report_id']}")
        assert answer.status_code == 403, answer.text
        assert answer.json()["error"]["code"] == "unit_not_in_agency"
    own = intake.as_("screener", user="s-1", agency="ocpm", unit="cotonou")
    assert (await own.get(f"/reports/{created['report_id']}")).status_code == 200


async def test_protection_concern_emits_report_accepted_in_the_same_append(intake: Intake) -> None:
    await describe_unit(intake, "cotonou", "ocpm")
    created = (await intake.as_("hotline_operator").post("/reports", report_body())).json()
    screener = intake.as_("screener", user="s-1", agency="ocpm", unit="cotonou")
    answer = await screener.post(
        f"/reports/{created['report_id']}/screening",
        {"decision": "protection_concern", "urgency": "high", "rationale": "Travail forcé"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["accepted"] is True and answer.json()["status"] == "protection_concern"
    stored = await _events(intake, "report", created["report_id"])
    assert [e.event.name for e in stored] == [
        "ReportRegistered",
        "ReportScreened",
        "ReportAccepted",
    ]
    assert stored[2].seq == stored[1].seq + 1  # one atomic batch
    accepted = stored[2].event
    assert isinstance(accepted, ReportAccepted)
    assert accepted.agency == "ocpm" and accepted.unit == "cotonou" and accepted.urgency == "high"
    assert accepted.children[0].age_years == 11 and accepted.children[0].age_band == "10-14"
    assert accepted.children[0].child_id == created["children"][0]["child_id"]
    screened = stored[1].event
    assert isinstance(screened, ReportScreened) and screened.within_deadline
    # deadline = received_at + 72 h for "high"
    assert answer.json()["deadline"] == screened.deadline


async def test_other_decisions_do_not_open_a_case(intake: Intake) -> None:
    operator, screener = intake.as_("hotline_operator"), intake.as_("screener")
    for decision, extra in (("not_a_concern", {}), ("redirect", {"redirect_to": "CPS Abomey"})):
        rid = (await operator.post("/reports", report_body())).json()["report_id"]
        answer = await screener.post(
            f"/reports/{rid}/screening",
            {"decision": decision, "urgency": "normal", "rationale": "vu, rien", **extra},
        )
        assert answer.status_code == 200 and answer.json()["accepted"] is False
    rid = (await operator.post("/reports", report_body())).json()["report_id"]
    missing = await screener.post(
        f"/reports/{rid}/screening",
        {"decision": "redirect", "urgency": "normal", "rationale": "vu, rien"},
        **{"Accept-Language": "en"},
    )
    assert missing.status_code == 422 and missing.json()["error"]["field"] == "redirect_to"


async def test_more_information_then_screen_again_but_final_decisions_are_final(
    intake: Intake,
) -> None:
    rid = (await intake.as_("hotline_operator").post("/reports", report_body())).json()["report_id"]
    screener = intake.as_("screener")
    url = f"/reports/{rid}/screening"
    body = {"decision": "more_information", "urgency": "normal", "rationale": "Rappeler"}
    assert (await screener.post(url, body)).status_code == 200
    body["decision"] = "not_a_concern"
    assert (await screener.post(url, body)).status_code == 200
    again = await screener.post(url, body, **{"Accept-Language": "en"})
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "already_screened"


async def test_two_screeners_at_once_one_decision_one_409(intake: Intake) -> None:
    rid = (await intake.as_("hotline_operator").post("/reports", report_body())).json()["report_id"]
    a, b = intake.as_("screener", user="s-a"), intake.as_("screener", user="s-b")
    answers = await asyncio.gather(
        a.post(
            f"/reports/{rid}/screening",
            {"decision": "protection_concern", "urgency": "emergency", "rationale": "Danger avéré"},
        ),
        b.post(
            f"/reports/{rid}/screening",
            {"decision": "not_a_concern", "urgency": "normal", "rationale": "Pas de danger"},
        ),
    )
    assert sorted(r.status_code for r in answers) == [200, 409]
    loser = next(r for r in answers if r.status_code == 409)
    assert loser.json()["error"]["code"] in ("version_conflict", "already_screened")
    names = [e.event.name for e in await _events(intake, "report", rid)]
    assert names.count("ReportScreened") == 1


async def test_a_stale_version_is_refused_with_the_current_one(intake: Intake) -> None:
    created = (await intake.as_("hotline_operator").post("/reports", report_body())).json()
    rid, seen = created["report_id"], created["version"]
    amend = await intake.as_("intake_officer").post(
        f"/reports/{rid}/amendments",
        {"changes": {"commune": "bj-zou-za-kpota"}, "reason": "Erreur de saisie"},
    )
    assert amend.status_code == 200
    stale = await intake.as_("screener").post(
        f"/reports/{rid}/screening",
        {"decision": "not_a_concern", "urgency": "normal", "rationale": "xyz", "version": seen},
    )
    assert stale.status_code == 409
    assert stale.json()["error"]["current_version"] == amend.json()["version"]


async def test_amendments_are_new_events_with_fields_and_reason(intake: Intake) -> None:
    created = (await intake.as_("hotline_operator").post("/reports", report_body())).json()
    rid = created["report_id"]
    officer = intake.as_("intake_officer")
    answer = await officer.post(
        f"/reports/{rid}/amendments",
        {
            "changes": {"concerns": ["child_labour", "neglect"], "narrative": "Complément"},
            "reason": "Rappel du déclarant",
        },
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["fields"] == ["concerns", "narrative"]
    stored = await _events(intake, "report", rid)
    assert stored[0].event.concerns == ["child_labour"]  # the original stays as it was
    amended = stored[-1].event
    assert isinstance(amended, ReportAmended) and amended.reason == "Rappel du déclarant"
    doc = (await officer.get(f"/reports/{rid}")).json()["document"]
    assert doc["concerns"] == ["child_labour", "neglect"] and len(doc["amendments"]) == 1
    same = await officer.post(
        f"/reports/{rid}/amendments",
        {"changes": {"narrative": "Complément"}, "reason": "rien"},
        **{"Accept-Language": "en"},
    )
    assert same.status_code == 422 and same.json()["error"]["code"] == "nothing_changed"
    emptied = await officer.post(
        f"/reports/{rid}/amendments", {"changes": {"commune": None}, "reason": "oups"}
    )
    assert emptied.status_code == 422 and emptied.json()["error"]["field"] == "changes.commune"


async def test_list_filters_and_pages(intake: Intake) -> None:
    operator = intake.as_("hotline_operator")
    old = await operator.post(
        "/reports", report_body(received_at=ago(days=10), concerns=["neglect"])
    )
    danger = await operator.post(
        "/reports", report_body(immediate_danger=True, commune="bj-borgou-parakou")
    )
    for _ in range(3):
        await operator.post("/reports", report_body())
    await intake.as_("screener").post(
        f"/reports/{danger.json()['report_id']}/screening",
        {"decision": "protection_concern", "urgency": "emergency", "rationale": "danger"},
    )

    async def ids(**params: object) -> list[str]:
        answer = await operator.get("/reports", **params)
        assert answer.status_code == 200, answer.text
        return [r["report_id"] for r in answer.json()["items"]]

    assert await ids(overdue=True) == [old.json()["report_id"]]
    assert await ids(concern="neglect") == [old.json()["report_id"]]
    assert await ids(commune="bj-borgou-parakou") == [danger.json()["report_id"]]
    assert await ids(status="protection_concern") == [danger.json()["report_id"]]
    assert await ids(urgency="emergency") == [danger.json()["report_id"]]
    assert len(await ids(status="received")) == 4
    assert len(await ids(received_from=ago(days=1))) == 4
    assert await ids(received_to=ago(days=5)) == [old.json()["report_id"]]
    page1, page2 = await ids(page_size=2, page=1), await ids(page_size=2, page=3)
    assert len(page1) == 2 and len(page2) == 1
    assert (await operator.get("/reports", page_size=2)).json()["total"] == 5
    bad = await operator.get("/reports", concern="witchcraft")
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "concern"
    assert (await operator.get("/reports", commune="bj-nowhere")).status_code == 422
    assert (await operator.get("/reports", status="lost")).status_code == 422
    assert (await operator.get("/reports", page_size=1000)).status_code == 422


async def test_agency_scoping_roles_and_restricted_perpetrator(intake: Intake) -> None:
    created = await intake.as_("hotline_operator").post(
        "/reports", report_body(alleged_perpetrator="Le patron du maquis")
    )
    rid = created.json()["report_id"]
    other = intake.as_("screener", agency="police-parakou")
    assert (await other.get(f"/reports/{rid}")).status_code == 404
    assert (await other.get("/reports")).json()["total"] == 0
    screen = {"decision": "not_a_concern", "urgency": "normal", "rationale": "xyz"}
    assert (await other.post(f"/reports/{rid}/screening", screen)).status_code == 404
    auditor = intake.as_("auditor", agency="inspection")
    assert (await auditor.get(f"/reports/{rid}")).json()["document"]["alleged_perpetrator"] == (
        "Le patron du maquis"
    )
    assert (await auditor.post(f"/reports/{rid}/screening", screen)).status_code == 403
    operator_view = await intake.as_("hotline_operator").get(f"/reports/{rid}")
    assert operator_view.json()["document"]["alleged_perpetrator"] == "[restricted]"
    statistician = intake.as_("statistician")
    assert (await statistician.get("/reports")).status_code == 403
    assert (await statistician.get(f"/reports/{rid}")).status_code == 403
    assert (await intake.as_("screener").post("/reports", report_body())).status_code == 403
    nobody = await intake.client.get("/reports")
    assert nobody.status_code == 401
    assert (await intake.as_("hotline_operator").get("/reports/not-an-id")).status_code == 422
