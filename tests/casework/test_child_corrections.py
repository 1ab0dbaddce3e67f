"""A case worker corrects the child's details from the case: casework asks intake by a
``ChildDetailsReported`` event (intake's side is in tests/intake/test_case_corrections.py and
tests/test_child_corrections_between_services.py). Here: who may, what is refused with its
field and reason in both languages, idempotency, that the case keeps no value, and that the
case shows intake's answer (applied, or refused with its reason) whichever of the request and
the answer its projectors see first, and ignores intake's own corrections."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from nats.aio.client import Client as NATS
from sqlalchemy import select

from services.casework.events import ChildDetailsReported
from services.casework.policies import case_aggregate
from services.casework.projections_children import child_corrections
from services.intake.events import ChildCorrectionRefused, ChildDetailsCorrected
from shared.envelope import Actor, Aggregate
from shared.eventstore import EventStore
from shared.ids import derived_id
from shared.recorded import RecordedEvent
from shared.signing import SigningKey
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
        "5 MB reason",
        {"changes": {"age_years": 9}, "reason": "x" * 5_000_000},
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


# -- intake's answers ------------------------------------------------------------------------

WORKER = Actor(user="worker-1", agency="ocpm", role="case_worker")
REFUSED_EN = "The correction changes nothing in the child record."
REFUSED_FR = "La correction ne modifie rien dans la fiche enfant."


class Log:
    """Casework's requests and intake's answers written straight to the log, so a test picks
    which of casework's projectors (CASEWORK, INTAKE) sees its event first."""

    def __init__(self, casework: Client, upstream: Upstream, store: EventStore) -> None:
        self.casework = casework
        self.upstream = upstream
        self.store = store

    @staticmethod
    def request_id(case_id: str, key: str) -> str:
        # The id the request will have, known before it is stored (derived from its key), so
        # that an answer can name it first.
        return derived_id(Aggregate("casework", "hq", "case", case_id).subject_filter, key, "0")

    async def request(
        self, case_id: str, child_id: str, key: str, changes: dict[str, Any]
    ) -> RecordedEvent:
        agg = Aggregate("casework", "hq", "case", case_id)
        result = await self.store.append(
            agg,
            (await self.store.load(agg))[-1].seq,
            [
                ChildDetailsReported(
                    case_id=case_id, child_id=child_id, changes=changes, reason="Vu à la visite"
                )
            ],
            actor=WORKER,
            idempotency_key=key,
        )
        [sent] = result.events
        assert sent.id == self.request_id(case_id, key)
        await self.casework.settle("CASEWORK", sent.seq)
        return sent

    async def applied(self, child_id: str, cause: str | None, **changes: Any) -> RecordedEvent:
        corrected = ChildDetailsCorrected(
            child_id=child_id, fields=sorted(changes), changes=changes, reason="Vu"
        )
        stored = await self.upstream.append(
            "intake", "child", child_id, corrected, causation_id=cause
        )
        await self.casework.settle("INTAKE", stored.seq)
        return stored

    async def refused(self, case_id: str, child_id: str, cause: str) -> RecordedEvent:
        refusal = ChildCorrectionRefused(
            child_id=child_id,
            request_id=cause,
            case_id=case_id,
            code="nothing_changed",
            reason_en=REFUSED_EN,
            reason_fr=REFUSED_FR,
        )
        stored = await self.upstream.append(
            "intake", "child", child_id, refusal, causation_id=cause
        )
        await self.casework.settle("INTAKE", stored.seq)
        return stored


@pytest.fixture
async def log(casework: Client, upstream: Upstream, nc: NATS) -> AsyncIterator[Log]:
    store = EventStore(
        nc,
        key=SigningKey.generate(),
        source="/relais/hq/casework/test",
        site="hq",
        writable_contexts=("casework",),
    )
    yield Log(casework, upstream, store)


def entry(sent: RecordedEvent, status: str, answer: RecordedEvent | None = None) -> dict[str, Any]:
    refused = status == "refused"
    return {
        "request_id": sent.id,
        "fields": sorted(sent.event.changes),
        "at": sent.time,
        "status": status,
        "answered_at": answer.time if answer else None,
        "code": "nothing_changed" if refused else None,
        "reason": {"en": REFUSED_EN, "fr": REFUSED_FR} if refused else None,
    }


def without_ids_or_times(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in i.items() if k not in ("request_id", "at", "answered_at")}
            for i in items]  # fmt: skip


async def test_the_case_shows_intakes_answer_whichever_its_projectors_see_first(
    casework: Client, upstream: Upstream, log: Log
) -> None:
    views = {}
    for order in ("request first", "answer first"):
        case_id = await new_case(casework, upstream)
        before = await casework.case(case_id)
        child_id = before["child_id"]
        name, school = {"name": NAME}, {"school_status": "enrolled"}
        ids = {k: Log.request_id(case_id, f"{order}:{k}") for k in ("name", "school", "age")}
        if order == "request first":
            by_name = await log.request(case_id, child_id, f"{order}:name", name)
            by_school = await log.request(case_id, child_id, f"{order}:school", school)
            by_age = await log.request(case_id, child_id, f"{order}:age", {"age_years": 9})
            assert [c["status"] for c in (await casework.case(case_id))["child_corrections"]] == [
                "sent",
                "sent",
                "sent",
            ]
            applied = await log.applied(child_id, ids["name"], **name)
            refused = await log.refused(case_id, child_id, ids["school"])
        else:
            applied = await log.applied(child_id, ids["name"], **name)
            refused = await log.refused(case_id, child_id, ids["school"])
            # Answers to requests the case has not seen yet: nothing shows, the version holds.
            assert await casework.case(case_id) == before
            by_name = await log.request(case_id, child_id, f"{order}:name", name)
            by_school = await log.request(case_id, child_id, f"{order}:school", school)
            by_age = await log.request(case_id, child_id, f"{order}:age", {"age_years": 9})
        case = await casework.case(case_id)
        assert case["child_corrections"] == [
            entry(by_name, "applied", applied),
            entry(by_school, "refused", refused),
            entry(by_age, "sent"),
        ], order
        # Intake's answers are not casework's events: the version the worker sends back in
        # If-Match is the case's own.
        assert case["version"] == by_age.seq
        views[order] = without_ids_or_times(case["child_corrections"])
        # French or English, the reason comes in both: the reader picks.
        english = await casework.http.get(
            f"/cases/{case_id}", headers=casework.headers(lang="en", roles=["supervisor"])
        )
        assert english.json()["child_corrections"] == case["child_corrections"]
        assert NAME not in str(case)
    assert views["request first"] == views["answer first"]
    # The table holds field names and intake's reasons, never a value.
    assert casework.runtime.engine is not None
    async with casework.runtime.engine.connect() as conn:
        rows = (await conn.execute(select(child_corrections))).all()
    assert len(rows) == 6 and NAME not in str(rows) and "enrolled" not in str(rows)


async def test_intakes_own_corrections_change_nothing_on_the_case(
    casework: Client, upstream: Upstream, log: Log
) -> None:
    case_id = await new_case(casework, upstream)
    child_id = (await casework.case(case_id))["child_id"]
    sent = await log.request(case_id, child_id, "k-1", {"name": NAME})
    before = await casework.case(case_id)
    assert before["child_corrections"] == [entry(sent, "sent")]
    # An intake officer corrects the same child from intake: no cause, not the case's.
    await log.applied(child_id, None, name=NAME)
    # Caused by something that is no request of casework's (or another case's request).
    await log.applied(child_id, "not-a-request", alias="Sèna")
    other = await new_case(casework, upstream)
    other_child = (await casework.case(other))["child_id"]
    elsewhere = await log.request(other, other_child, "k-2", {"documented": True})
    refusal = await log.refused(other, other_child, elsewhere.id)
    assert await casework.case(case_id) == before
    assert casework.runtime.engine is not None
    async with casework.runtime.engine.connect() as conn:
        rows = {
            r.request_id: (r.case_id, r.status)
            for r in await conn.execute(select(child_corrections))
        }
    assert rows == {
        sent.id: (case_id, "sent"),
        # Kept (the request might yet come), shown on no case.
        "not-a-request": (None, "applied"),
        elsewhere.id: (other, "refused"),
    }
    assert (await casework.case(other))["child_corrections"] == [
        entry(elsewhere, "refused", refusal)
    ]
