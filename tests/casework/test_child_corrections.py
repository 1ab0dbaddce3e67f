"""A case worker corrects the child's details from the case: casework asks intake by a
``ChildDetailsReported`` event (intake's side is in tests/intake/test_case_corrections.py and
tests/test_child_corrections_between_services.py). Here: who may, what is refused with its
field and reason in both languages, idempotency, that the case keeps no value, and that the
case shows intake's answer (applied, or refused with its reason) whichever of the request and
the answer its projectors see first, and ignores intake's own corrections."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from contracts.casework import ChildDetailsReported
from services.casework.app.policies import case_aggregate
from shared.eventstore import EventStore
from tests.casework.conftest import Client, Upstream
from tests.casework.test_api import new_case

URL = "/cases/{}/child-corrections"
NAME, DOB = "Sèna Houénou-Gbaguidi", "2014-06-03"
FIX = {"changes": {"name": NAME, "date_of_birth": DOB}, "reason": "Acte de naissance vu"}


async def correct(
    casework: Client, case_id: str, body: Any, *, version: int | None = None, **who: Any
) -> Any:
    if version is None:
        version = (await casework.case(case_id, who.get("agency", "ocpm")))["version"]
    return await casework.http.post(
        URL.format(case_id), json=body, headers=casework.headers(version=version, **who)
    )


async def reported(casework: Client, case_id: str) -> list[Any]:
    store = casework.runtime.store
    assert isinstance(store, EventStore)
    stored = await store.load(case_aggregate(casework.runtime, case_id))
    return [r for r in stored if isinstance(r.event, ChildDetailsReported)]


async def test_a_worker_sends_the_corrected_details_and_the_case_keeps_only_field_names(
    casework: Client, upstream: Upstream
) -> None:
    case_id = await new_case(casework, upstream)
    before = await casework.case(case_id)
    answer = await correct(casework, case_id, FIX, key="visite-12", lang="en")
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["child_id"] == before["child_id"] and body["fields"] == ["date_of_birth", "name"]
    assert body["message"] == (
        "The correction was sent to intake, which applies it to the child record."
    )
    assert answer.headers["ETag"] == f'"{body["version"]}"' and body["version"] > before["version"]
    [sent] = await reported(casework, case_id)
    assert sent.id == body["event_id"]
    assert sent.event.changes == {"name": NAME, "date_of_birth": DOB}
    assert (sent.event.case_id, sent.event.reason) == (case_id, "Acte de naissance vu")
    assert (sent.actor.user, sent.actor.agency, sent.actor.role) == (
        "worker-1",
        "ocpm",
        "case_worker",
    )
    # A retry with the same key stores nothing new and names the same event.
    again = await correct(casework, case_id, FIX, version=before["version"], key="visite-12")
    assert again.status_code == 202 and again.json()["duplicate"] is True
    assert again.json()["event_id"] == body["event_id"]
    assert len(await reported(casework, case_id)) == 1
    # French by default; a supervisor may send one too, with a range for the age.
    ranged = {"changes": {"age_range": {"min": 9, "max": 11}}, "reason": "Estimation"}
    by_supervisor = await correct(casework, case_id, ranged, user="sup-1", roles=["supervisor"])
    assert by_supervisor.status_code == 202, by_supervisor.text
    assert by_supervisor.json()["message"].startswith("La correction a été transmise")
    # The case shows that corrections were sent, which fields and when: no value. Intake has
    # not answered (it is not running here): both are "sent".
    case = await casework.case(case_id)
    assert case["child_corrections"] == [
        {
            "request_id": body["event_id"],
            "fields": ["date_of_birth", "name"],
            "at": sent.time,
            "status": "sent",
            "answered_at": None,
            "code": None,
            "reason": None,
        },
        {
            "request_id": by_supervisor.json()["event_id"],
            "fields": ["age_range"],
            "at": (await reported(casework, case_id))[1].time,
            "status": "sent",
            "answered_at": None,
            "code": None,
            "reason": None,
        },
    ]
    assert "Houénou" not in str(case) and DOB not in str(case)


async def test_a_closure_request_does_not_stop_a_correction_a_closed_case_does(
    casework: Client, upstream: Upstream
) -> None:
    case_id = await new_case(casework, upstream)
    await casework.act(case_id, "closure", {"reason": "moved"})
    school = {"changes": {"school_status": "enrolled"}, "reason": "Inscrite en CE1"}
    assert (await correct(casework, case_id, school)).status_code == 202
    await casework.act(case_id, "closure/decision", {"approve": True}, user="sup-2",
                       roles=["supervisor"])  # fmt: skip
    closed = await correct(casework, case_id, school, lang="en")
    assert closed.status_code == 409, closed.text
    assert closed.json()["error"] == {"code": "case_closed", "message": "The case is closed."}
    assert len(await reported(casework, case_id)) == 1


async def test_only_the_owning_agencys_workers_and_supervisors_may_correct(
    casework: Client, upstream: Upstream
) -> None:
    case_id = await new_case(casework, upstream)
    version = (await casework.case(case_id))["version"]
    other = await correct(casework, case_id, FIX, version=version, user="w-2", agency="upe")
    assert other.status_code == 404 and other.json()["error"]["code"] == "case_not_found"
    unknown = await correct(casework, "no-such-case", FIX, version=version)
    assert unknown.status_code == 404
    for role in ("auditor", "statistician"):
        refused = await correct(casework, case_id, FIX, version=version, user="x", roles=[role])
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    missing = await casework.http.post(
        URL.format(case_id), json=FIX, headers=casework.headers(lang="en")
    )
    assert missing.status_code == 428 and missing.json()["error"]["field"] == "If-Match"
    assert await reported(casework, case_id) == []


def changes(**fields: Any) -> dict[str, Any]:
    return {"changes": fields, "reason": "Vu à la visite"}


TOMORROW = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()
BAD: list[tuple[str, Any, str, str, str]] = [
    (
        "empty changes",
        changes(),
        "changes",
        "Give at least one corrected field.",
        "Indiquez au moins un champ corrigé.",
    ),
    (
        "unknown field",
        changes(eyes="brown"),
        "changes.eyes",
        "This field is not expected here.",
        "Ce champ n'est pas attendu ici.",
    ),
    (
        "a field intake does not let a correction change",
        changes(commune="bj-littoral-cotonou"),
        "changes.commune",
        "This field is not expected here.",
        "Ce champ n'est pas attendu ici.",
    ),
    (
        "born in the future",
        changes(date_of_birth=TOMORROW),
        "changes.date_of_birth",
        "This date is in the future.",
        "Cette date est dans le futur.",
    ),
    (
        "born an adult",
        changes(date_of_birth=date(2000, 1, 1).isoformat()),
        "changes.date_of_birth",
        "This date of birth makes the person an adult (18 or over).",
        "Cette date de naissance fait de la personne un adulte (18 ans ou plus).",
    ),
    (
        "age 18",
        changes(age_years=18),
        "changes.age_years",
        "Must be at most 17.",
        "Doit être inférieur ou égal à 17.",
    ),
    (
        "age -1",
        changes(age_years=-1),
        "changes.age_years",
        "Must be at least 0.",
        "Doit être supérieur ou égal à 0.",
    ),
    (
        "range beyond 17",
        changes(age_range={"min": 15, "max": 19}),
        "changes.age_range.max",
        "Must be at most 17.",
        "Doit être inférieur ou égal à 17.",
    ),
    (
        "range reversed",
        changes(age_range={"min": 9, "max": 5}),
        "changes.age_range",
        "The lower age is above the upper age.",
        "L'âge minimal dépasse l'âge maximal.",
    ),
    (
        "two ages",
        changes(age_years=9, date_of_birth="2016-01-01"),
        "changes",
        "Give one of date_of_birth, age_years or age_range, not several.",
        "Donnez une seule des valeurs date_of_birth, age_years ou age_range.",
    ),
    (
        # (A 5 MB body never reaches the route: 413, tests/backbone/test_outages.py.)
        "5,000-character reason",
        {"changes": {"age_years": 9}, "reason": "x" * 5_000},
        "reason",
        "Too long: at most 1000 characters.",
        "Trop long : 1000 caractères au plus.",
    ),
    (
        "no reason",
        {"changes": {"age_years": 9}},
        "reason",
        "This field is required.",
        "Ce champ est obligatoire.",
    ),
    (
        "blank reason",
        {"changes": {"age_years": 9}, "reason": "    "},
        "reason",
        "Say why the child's details are corrected.",
        "Indiquez pourquoi les informations de l'enfant sont corrigées.",
    ),
    (
        "age as words",
        changes(age_years="nine"),
        "changes.age_years",
        "A whole number is expected.",
        "Un nombre entier est attendu.",
    ),
    (
        "documented as words",
        changes(documented="perhaps"),
        "changes.documented",
        "true or false is expected.",
        "true ou false est attendu.",
    ),
    (
        "name as a number",
        changes(name=12),
        "changes.name",
        "Text is expected.",
        "Un texte est attendu.",
    ),
    (
        "blank name",
        changes(name="   "),
        "changes.name",
        "Too short: at least 1 characters.",
        "Trop court : au moins 1 caractères.",
    ),
    (
        "changes as a list",
        {"changes": ["name"], "reason": "Vu à la visite"},
        "changes",
        "",
        "",
    ),
    (
        "sex emptied",
        changes(sex=None),
        "changes.sex",
        "This field cannot be emptied.",
        "Ce champ ne peut être vidé.",
    ),
    (
        "unknown sex",
        changes(sex="x"),
        "changes.sex",
        "Unknown sex; expected one of:",
        "",
    ),
    (
        "unknown school status",
        changes(school_status="sometimes"),
        "changes.school_status",
        "",
        "",
    ),
    (
        "unknown vulnerability",
        changes(vulnerabilities=["rich"]),
        "changes.vulnerabilities",
        "Unknown vulnerability factor; expected one of:",
        "",
    ),
]


async def test_bad_corrections_are_refused_with_field_and_reason_in_both_languages(
    casework: Client, upstream: Upstream
) -> None:
    # One case for every bad body: each must leave it untouched.
    case_id = await new_case(casework, upstream)
    version = (await casework.case(case_id))["version"]
    for label, body, field, en, fr in BAD:
        for lang, reason in (("en", en), ("fr", fr)):
            answer = await correct(casework, case_id, body, version=version, lang=lang)
            assert answer.status_code == 422, f"{label}: {answer.text[:300]}"
            error = answer.json()["error"]
            found = {f["field"]: f["reason"] for f in error.get("fields", [])}
            if "field" in error:  # refused by the rules rather than by the body's shape
                found[error["field"]] = error["message"]
            assert field in found, f"{label}: {found}"
            assert found[field].startswith(reason), f"{label} ({lang}): {found[field]}"
            assert NAME not in answer.text and "x" * 100 not in answer.text, label
    assert await reported(casework, case_id) == []
    assert (await casework.case(case_id))["version"] == version
