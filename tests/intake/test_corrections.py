"""Correcting a child record: a new event with the changed fields, their new values and a
reason; the view, search, matching and acceptance use the corrected child; bad corrections
and stale ones are refused with the field and the reason."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Any

from contracts.intake import ChildDetailsCorrected, ChildRecorded, ReportAccepted
from shared.envelope import Aggregate
from tests.intake.conftest import Intake, report_body

EN = {"Accept-Language": "en"}


async def _child(intake: Intake, **child: Any) -> str:
    answer = await intake.as_("hotline_operator").post("/reports", report_body(children=[child]))
    assert answer.status_code == 201, answer.text
    return str(answer.json()["children"][0]["child_id"])


async def _log(intake: Intake, kind: str, id_: str) -> list[Any]:
    return await intake.runtime.store.load(Aggregate("intake", "hq", kind, id_))


async def test_a_corrected_name_and_age_change_view_search_and_matching(intake: Intake) -> None:
    kossi = await _child(intake, name="Kossi Agbodjan", sex="male", age_years=9)
    misspelt = await _child(intake, name="Koffi Agbodjan", sex="male", age_years=9)
    officer = intake.as_("intake_officer", user="ines")
    url = f"/children/{misspelt}/corrections"
    answer = await officer.post(
        url, {"changes": {"name": "Kossi Agbodjan"}, "reason": "Le père a épelé le prénom"}
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["fields"] == ["name"]
    # A corrected name can reveal a known child: suggested at once, never merged.
    assert [s["candidate_id"] for s in body["suggested_duplicates"]] == [kossi]
    view = (await officer.get(f"/children/{misspelt}")).json()
    assert view["details"]["name"] == "Kossi Agbodjan" and view["version"] == body["version"]
    assert [(c["fields"], c["reason"], c["by"]["user"]) for c in view["corrections"]] == [
        (["name"], "Le père a épelé le prénom", "ines")
    ]
    stored = await _log(intake, "child", misspelt)
    original = stored[0].event
    assert isinstance(original, ChildRecorded) and original.details.name == "Koffi Agbodjan"
    assert isinstance(stored[1].event, ChildDetailsCorrected)
    found = (await officer.get("/children", name="Koffi Agbodjan")).json()["items"]
    assert misspelt not in {c["child_id"] for c in found}
    # The age too: a boy of 15 is no longer the 9-year-old reported next.
    older = await officer.post(url, {"changes": {"age_years": 15}, "reason": "Acte retrouvé"})
    assert older.status_code == 200 and older.json()["fields"] == ["age_years"]
    assert older.json()["suggested_duplicates"] == []  # kossi was already suggested
    again = await intake.as_("hotline_operator").post(
        "/reports",
        report_body(children=[{"name": "Kossivi Agbodjan", "sex": "male", "age_years": 9}]),
    )
    suggested = [s["candidate_id"] for s in again.json()["children"][0]["suggested_duplicates"]]
    assert suggested == [kossi]
    same = await officer.post(url, {"changes": {"age_years": 15}, "reason": "encore"}, **EN)
    assert same.status_code == 422 and same.json()["error"]["code"] == "nothing_changed"
    assert same.json()["error"]["message"] == "The correction changes nothing in the child record."


async def test_a_corrected_age_replaces_the_whole_age_and_a_name_identifies(
    intake: Intake,
) -> None:
    born = await _child(intake, name="Yétúndé Adjayi", sex="female", date_of_birth="2014-03-02")
    officer = intake.as_("screener")
    ranged = await officer.post(
        f"/children/{born}/corrections",
        {"changes": {"age_range": {"min": 8, "max": 10}}, "reason": "Date de naissance inventée"},
    )
    assert ranged.status_code == 200, ranged.text
    assert ranged.json()["fields"] == ["age_max", "age_min", "date_of_birth"]
    details = (await officer.get(f"/children/{born}")).json()["details"]
    assert (details["date_of_birth"], details["age_min"], details["age_max"]) == (None, 8, 10)
    nameless = await _child(intake, unidentified=True, sex="unknown")
    named = await officer.post(
        f"/children/{nameless}/corrections",
        {"changes": {"name": "Yetunde Ajayi", "sex": "female"}, "reason": "Elle a dit son nom"},
    )
    assert named.status_code == 200, named.text
    assert named.json()["fields"] == ["name", "sex", "unidentified"]
    found = (await officer.get("/children", name="Yetunde Ajayi")).json()["items"]
    assert {c["child_id"] for c in found} == {born, nameless}


async def test_acceptance_sends_casework_the_corrected_sex_and_age(intake: Intake) -> None:
    created = await intake.as_("hotline_operator").post(
        "/reports", report_body(children=[{"name": "Gounou Sabi", "age_years": 11}])
    )
    rid, cid = created.json()["report_id"], created.json()["children"][0]["child_id"]
    corrected = await intake.as_("screener").post(
        f"/children/{cid}/corrections",
        {"changes": {"sex": "male", "age_years": 16}, "reason": "Vu par l'agent"},
    )
    assert corrected.status_code == 200, corrected.text
    await intake.as_("screener").post(
        f"/reports/{rid}/screening",
        {"decision": "protection_concern", "urgency": "high", "rationale": "Exploitation"},
    )
    accepted = (await _log(intake, "report", rid))[-1].event
    assert isinstance(accepted, ReportAccepted)
    assert (accepted.children[0].sex, accepted.children[0].age_band) == ("male", "15-17")


async def test_corrections_use_optimistic_concurrency(intake: Intake) -> None:
    cid = await _child(intake, name="Zinsou Dossa", sex="male", age_years=7)
    seen = (await intake.as_("screener").get(f"/children/{cid}")).json()["version"]
    a, b = intake.as_("screener", user="a"), intake.as_("supervisor", user="b")
    url = f"/children/{cid}/corrections"
    answers = await asyncio.gather(
        a.post(url, {"changes": {"age_years": 8}, "reason": "Carnet", "version": seen}),
        b.post(url, {"changes": {"alias": "Zinzin"}, "reason": "Surnom", "version": seen}),
    )
    assert sorted(r.status_code for r in answers) == [200, 409]
    loser = next(r for r in answers if r.status_code == 409).json()["error"]
    winner = next(r for r in answers if r.status_code == 200).json()
    assert loser["code"] == "version_conflict" and loser["current_version"] == winner["version"]
    stale = await a.post(
        url, {"changes": {"whereabouts": "Marché Dantokpa"}, "reason": "Vu là", "version": seen}
    )
    assert (
        stale.status_code == 409 and stale.json()["error"]["current_version"] == winner["version"]
    )
    names = [e.event.name for e in await _log(intake, "child", cid)]
    assert names.count("ChildDetailsCorrected") == 1


FUTURE = (date.today() + timedelta(days=3)).isoformat()
ADULT = (datetime.now(UTC).date() - timedelta(days=365 * 19)).isoformat()
BAD: list[tuple[dict[str, Any], str, str]] = [
    ({"changes": {"age_years": 18}, "reason": "abc"}, "changes.age_years", "Must be at most 17."),
    ({"changes": {"age_years": -1}, "reason": "abc"}, "changes.age_years", "Must be at least 0."),
    (
        {"changes": {"date_of_birth": FUTURE}, "reason": "abc"},
        "changes.date_of_birth",
        "This date is in the future.",
    ),
    (
        {"changes": {"date_of_birth": ADULT}, "reason": "abc"},
        "changes.date_of_birth",
        "This date of birth makes the person an adult (18 or over).",
    ),
    ({"changes": {"sex": "x"}, "reason": "abc"}, "changes.sex", "Unknown sex; expected one of:"),
    (
        {"changes": {"vulnerabilities": ["rich"]}, "reason": "abc"},
        "changes.vulnerabilities",
        "Unknown vulnerability factor; expected one of:",
    ),
    (
        {"changes": {"age_range": {"min": 9, "max": 5}}, "reason": "abc"},
        "changes.age_range",
        "The lower age is above the upper age.",
    ),
    (
        {"changes": {"age_years": 5, "date_of_birth": None}, "reason": "abc"},
        "changes",
        "Give one of date_of_birth, age_years or age_range, not several.",
    ),
    ({"changes": {"school_status": "maybe"}, "reason": "abc"}, "changes.school_status", ""),
    ({"changes": {"name": ""}, "reason": "abc"}, "changes.name", ""),
    ({"changes": {"eyes": "brown"}, "reason": "abc"}, "changes.eyes", "This field is not expected"),
    ({"changes": {"report_id": "r"}, "reason": "abc"}, "changes.report_id", "This field is not"),
    ({"changes": {"name": "Awa Sow"}}, "reason", "This field is required."),
    ({"changes": {"name": "Awa Sow"}, "reason": "ab"}, "reason", ""),
    ({"changes": {"name": "Awa Sow"}, "reason": "abc", "version": 0}, "version", ""),
    ({"reason": "abc"}, "changes", "This field is required."),
]


async def test_bad_corrections_are_refused_with_field_and_reason(intake: Intake) -> None:
    cid = await _child(intake, name="Awa Sow", sex="female", age_years=12)
    officer = intake.as_("intake_officer")
    url = f"/children/{cid}/corrections"
    for body, field, reason in BAD:
        answer = await officer.post(url, body, **EN)
        assert answer.status_code == 422, (body, answer.text)
        fields = {f["field"]: f["reason"] for f in answer.json()["error"]["fields"]}
        assert field in fields and fields[field].startswith(reason), (body, fields)
        french = await officer.post(url, body)
        assert french.json()["error"]["message"] == "La requête n'est pas valide."
        assert all(f["reason"] for f in french.json()["error"]["fields"])
        assert "Awa" not in answer.text and "rich" not in answer.text  # values never echoed
    emptied = await officer.post(url, {"changes": {"sex": None}, "reason": "abc"}, **EN)
    assert emptied.status_code == 422
    assert [f["field"] for f in emptied.json()["error"]["fields"]] == ["changes.sex"]
    french = await officer.post(url, {"changes": {"vulnerabilities": None}, "reason": "abc"})
    assert french.json()["error"]["fields"][0]["reason"] == "Ce champ ne peut être vidé."
    nothing = await officer.post(url, {"changes": {}, "reason": "abc"})
    assert nothing.status_code == 422 and nothing.json()["error"]["code"] == "nothing_changed"
    unknown = await officer.post(
        "/children/00000000-0000-7000-8000-000000000000/corrections",
        {"changes": {"name": "X"}, "reason": "abc"},
    )
    assert unknown.status_code == 404
    assert (await officer.post("/children/nope/corrections", body)).status_code == 422
    good = {"changes": {"name": "Awa Diallo"}, "reason": "abc"}
    stranger = intake.as_("intake_officer", agency="police-parakou")
    assert (await stranger.post(url, good)).status_code == 404
    for role in ("statistician", "auditor", "case_worker", "oversight"):
        refused = await intake.as_(role).post(url, good)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    assert [e.event.name for e in await _log(intake, "child", cid)] == ["ChildRecorded"]
