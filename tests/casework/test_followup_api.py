"""Direct opening, services, follow-up visits and notes over HTTP on real NATS and
PostgreSQL: the allowed paths, each refusal with its field and reason, and the note
sensitivity matrix per reader."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from services.casework.app.policies import case_aggregate
from services.casework.read.tables import cases, notes
from shared.access import access_outbox
from tests.casework.conftest import Client, Upstream
from tests.casework.test_api import SUP, assigned_case

POLICE = "police-cotonou"
OFFICER = {"user": "officer-1", "agency": POLICE}
NAME, PLACE = "Kofi Mensah", "Dantokpa"
TODAY = datetime.now(UTC).date()


def found(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "child": {
            "name": NAME,
            "sex": "male",
            "age_years": 11,
            "vulnerabilities": ["street_living_working"],
            "whereabouts": f"{PLACE} market",
        },
        "concerns": ["street_children", "child_labour"],
        "urgency": "high",
        "commune": "bj-littoral-cotonou",
        "found_at": (datetime.now(UTC) - timedelta(hours=2)).isoformat(),
    }
    body.update(changes)
    return body


async def open_directly(casework: Client, key: str | None = None, **changes: Any) -> Any:
    headers = casework.headers(key=key, **OFFICER)
    return await casework.http.post("/cases", json=found(**changes), headers=headers)


async def test_a_worker_who_found_a_child_opens_a_case_directly_once(
    casework: Client, upstream: Upstream
) -> None:
    first = await open_directly(casework, key="found-1")
    assert first.status_code == 201, first.text
    opened = first.json()
    assert opened["events"] == ["CaseOpened", "ChildIdentified"] and not opened["duplicate"]
    retry = await open_directly(casework, key="found-1")
    assert retry.status_code == 201 and retry.json()["duplicate"] is True
    assert {k: retry.json()[k] for k in ("case_id", "child_id", "version")} == {
        k: opened[k] for k in ("case_id", "child_id", "version")
    }
    case_id, child_id = opened["case_id"], opened["child_id"]
    assert casework.runtime.store is not None
    stored = await casework.runtime.store.load(case_aggregate(casework.runtime, case_id))
    assert [r.event.name for r in stored] == ["CaseOpened", "ChildIdentified"]
    identified = stored[1].event
    assert identified.child_id == child_id and identified.details.name == NAME  # type: ignore[attr-defined]
    assert stored[0].envelope["actoragency"] == POLICE

    case = await casework.case(case_id, POLICE)
    assert case["opened_directly"] is True and case["reports"] == []
    assert case["version"] == opened["version"], "the next write must be able to name it"
    assert (case["sex"], case["age_band"], case["risk_level"], case["stage"]) == (
        "male",
        "10-14",
        "medium",
        "registration",
    )
    # Intake owns the child's identity: casework's own tables hold neither name nor place.
    assert casework.runtime.engine is not None
    async with casework.runtime.engine.connect() as conn:
        row = (await conn.execute(select(cases).where(cases.c.case_id == case_id))).one()
    kept = json.dumps(row._asdict(), default=str)
    assert NAME not in kept and PLACE not in kept

    # Another key is another child found: another case.
    other = await open_directly(casework, key="found-2")
    assert other.json()["case_id"] != case_id

    # When intake later accepts a report naming this child, the report joins the open case.
    report_id, _, seq = await upstream.report(child_ids=[child_id], agency=POLICE)
    await casework.settle("INTAKE", seq)
    for _ in range(200):
        case = await casework.case(case_id, POLICE)
        if case["reports"]:
            break
        await asyncio.sleep(0.05)
    assert [r["report_id"] for r in case["reports"]] == [report_id]
    listed = await casework.get(f"/cases?child_id={child_id}", **OFFICER)
    assert listed.json()["total"] == 1


async def test_direct_opening_refuses_bad_input_with_the_field_and_a_reason(
    casework: Client,
) -> None:
    async def refused(lang: str = "en", **changes: Any) -> dict[str, Any]:
        headers = casework.headers(lang=lang, **OFFICER)
        answer = await casework.http.post("/cases", json=found(**changes), headers=headers)
        assert answer.status_code == 422, answer.text
        assert NAME not in answer.text and PLACE not in answer.text
        error: dict[str, Any] = answer.json()["error"]
        return error

    def reasons(error: dict[str, Any]) -> dict[str, str]:
        return {f["field"]: f["reason"] for f in error["fields"]}

    empty = await casework.http.post("/cases", json={}, headers=casework.headers(**OFFICER))
    assert empty.status_code == 422
    assert set(reasons(empty.json()["error"])) == {
        "child",
        "concerns",
        "urgency",
        "commune",
        "found_at",
    }
    assert reasons(empty.json()["error"])["urgency"] == "Ce champ est obligatoire."

    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert reasons(await refused(found_at=future)) == {"found_at": "This date is in the future."}
    assert reasons(await refused("fr", found_at=future)) == {
        "found_at": "Cette date est dans le futur."
    }
    assert set(reasons(await refused(found_at="2026-03-01T10:00:00"))) == {"found_at"}
    unknown = reasons(await refused(concerns=["witchcraft"], urgency="soon", commune=PLACE))
    assert unknown["concerns"].startswith("Unknown concern category")
    assert unknown["urgency"].startswith("Unknown urgency; expected one of: emergency")
    assert unknown["commune"].startswith("Unknown commune")
    wrong_types = reasons(
        await refused(
            concerns="neglect",
            immediate_danger="perhaps",
            child={"age_years": "eleven", "sex": "boy"},
        )
    )
    assert wrong_types == {
        "concerns": "A list is expected.",
        "immediate_danger": "true or false is expected.",
        "child.age_years": "A whole number is expected.",
        "child.sex": "Unknown sex; expected one of: female, male, unknown, other.",
    }
    extra = reasons(await refused(report_id="r-1", child={"nickname": NAME}))
    assert extra == {
        "report_id": "This field is not expected here.",
        "child.nickname": "This field is not expected here.",
    }
    adult = reasons(await refused(child={"date_of_birth": "1990-01-01"}))
    assert adult == {"child.date_of_birth": "This date of birth makes the person an adult (18 "
                     "or over)."}  # fmt: skip
    two_ages = reasons(await refused(child={"age_years": 9, "date_of_birth": "2017-01-01"}))
    assert list(two_ages) == ["child"]
    assert set(reasons(await refused(concerns=[]))) == {"concerns"}

    danger = await refused(immediate_danger=True, initial_risk="low")
    assert (danger["code"], danger["field"]) == ("danger_is_high_risk", "initial_risk")
    assert danger["message"] == "A child in immediate danger is at high risk."

    for roles in (["screener"], ["auditor"], ["statistician"]):
        headers = casework.headers(roles=roles, **OFFICER)
        answer = await casework.http.post("/cases", json=found(), headers=headers)
        assert answer.status_code == 403, roles
    assert (await casework.http.post("/cases", json=found())).status_code == 401
    long_key = await open_directly(casework, key="k" * 201)
    assert long_key.status_code == 422 and long_key.json()["error"]["field"] == "Idempotency-Key"
    listed = await casework.get("/cases", roles=["auditor"], user="aud")
    assert listed.json()["total"] == 0  # nothing was written by any refused request


async def test_services_and_visits_are_recorded_and_shown_with_the_case(
    casework: Client, upstream: Upstream
) -> None:
    case_id = await assigned_case(casework, upstream)
    version = (await casework.case(case_id))["version"]

    async def refused(path: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = await casework.post(f"/cases/{case_id}/{path}", body, version=version, lang="en")
        assert answer.status_code == 422, answer.text
        error: dict[str, Any] = answer.json()["error"]
        return error

    tomorrow = (TODAY + timedelta(days=2)).isoformat()
    bad_kind = await refused(
        "services", {"service_kind": "astrology", "delivered_on": TODAY.isoformat()}
    )
    assert (bad_kind["field"], bad_kind["code"]) == ("service_kind", "unknown_service_kind")
    late = await refused("services", {"service_kind": "medical", "delivered_on": tomorrow})
    assert late["fields"][0]["field"] == "delivered_on"
    assert late["fields"][0]["reason"] == "This date is in the future."
    orphan = {"service_kind": "medical", "delivered_on": TODAY.isoformat(), "action_id": "x-1"}
    assert (await refused("services", orphan))["code"] == "unknown_action"
    typed = await refused("services", {"service_kind": 3, "delivered_on": "yesterday", "who": 1})
    assert {f["field"] for f in typed["fields"]} == {"service_kind", "delivered_on", "who"}
    assert (await refused("visits", {}))["fields"][0]["field"] in ("visited_on", "child_seen")
    backwards = {
        "visited_on": TODAY.isoformat(),
        "child_seen": True,
        "next_visit_due": (TODAY - timedelta(days=1)).isoformat(),
    }
    assert (await refused("visits", backwards))["field"] == "next_visit_due"

    service = await casework.act(
        case_id,
        "services",
        {"service_kind": "medical", "delivered_on": TODAY.isoformat(), "note": "Wound dressed"},
    )
    assert service["events"] == ["ServiceDelivered"] and service["service_id"]
    visit = await casework.act(
        case_id,
        "visits",
        {
            "visited_on": (TODAY - timedelta(days=1)).isoformat(),
            "child_seen": True,
            "risk_level": "high",
            "findings": "Sleeping at the market again",
            "next_visit_due": (TODAY + timedelta(days=14)).isoformat(),
        },
    )
    assert visit["events"] == ["FollowUpVisitRecorded"]
    case = await casework.case(case_id)
    assert case["risk_level"] == "high"
    assert case["next_visit_due"] == (TODAY + timedelta(days=14)).isoformat()
    assert case["visit_overdue"] is False
    [delivered] = case["services"]
    assert (delivered["service_kind"], delivered["agency"], delivered["by"]) == (
        "medical",
        "ocpm",
        "worker-1",
    )
    assert case["visits"][0]["findings"] == "Sleeping at the market again"

    await casework.act(case_id, "closure", {"reason": "moved"})
    await casework.act(case_id, "closure/decision", {"approve": True}, **SUP)
    closed = await casework.case(case_id)
    assert closed["next_visit_due"] is None
    for path, body in (
        ("services", {"service_kind": "medical", "delivered_on": TODAY.isoformat()}),
        ("visits", {"visited_on": TODAY.isoformat(), "child_seen": False}),
        ("notes", {"sensitivity": "normal", "text": "Called the aunt"}),
    ):
        answer = await casework.post(
            f"/cases/{case_id}/{path}", body, version=closed["version"], lang="en"
        )
        assert answer.status_code == 409, path
        assert answer.json()["error"] == {"code": "case_closed", "message": "The case is closed."}


async def test_who_reads_which_note(casework: Client, upstream: Upstream) -> None:
    case_id = await assigned_case(casework, upstream)  # worker-1, supervised by sup-1
    written = {
        "normal": await casework.act(
            case_id, "notes", {"sensitivity": "normal", "text": "Mother called"}
        ),
        "restricted": await casework.act(
            case_id,
            "notes",
            {"sensitivity": "restricted", "text": "Uncle suspected"},
            user="worker-2",
        ),
        "confidential": await casework.act(
            case_id, "notes", {"sensitivity": "confidential", "text": "Complaint about staff"}
        ),
    }
    assert all(w["events"] == ["CaseNoteAdded"] and w["note_id"] for w in written.values())
    readers: dict[str, tuple[dict[str, Any], set[str]]] = {
        "assigned worker, author of two": (
            {"user": "worker-1"},
            {"normal", "restricted", "confidential"},
        ),
        "author of the restricted one": ({"user": "worker-2"}, {"normal", "restricted"}),
        "another worker": ({"user": "worker-3"}, {"normal"}),
        "the case's supervisor": (SUP, {"normal", "restricted", "confidential"}),
        "another supervisor": (
            {"user": "sup-2", "roles": ["supervisor"]},
            {"normal", "restricted"},
        ),
        "auditor": (
            {"user": "aud", "roles": ["auditor"], "agency": "oversight"},
            {"normal", "restricted", "confidential"},
        ),
    }
    for label, (who, expected) in readers.items():
        answer = await casework.get(f"/cases/{case_id}/notes", **who)
        assert answer.status_code == 200, label
        seen = {n["sensitivity"] for n in answer.json()["items"]}
        assert seen == expected, label
        assert answer.json()["total"] == len(expected), label
    page = (await casework.get(f"/cases/{case_id}/notes?limit=1&offset=1", **SUP)).json()
    assert [n["text"] for n in page["items"]] == ["Uncle suspected"] and page["total"] == 3
    assert page["items"][0]["author"] == "worker-2"

    other_agency = await casework.get(f"/cases/{case_id}/notes", user="w", agency="upe-rabat")
    assert other_agency.status_code == 404
    statistician = await casework.get(f"/cases/{case_id}/notes", roles=["statistician"])
    assert statistician.status_code == 403

    # Notes stay out of the case and the list; only the notes route shows them.
    listing = await casework.get("/cases", **SUP)
    detail = await casework.get(f"/cases/{case_id}", **SUP)
    for text in ("Mother called", "Uncle suspected", "Complaint about staff"):
        assert text not in listing.text and text not in detail.text

    version = (await casework.case(case_id))["version"]
    for body, field in (
        ({"sensitivity": "secret", "text": "x"}, "sensitivity"),
        ({"sensitivity": "normal", "text": ""}, "text"),
        ({"text": "x"}, "sensitivity"),
        ({"sensitivity": "normal", "text": "x" * 20001}, "text"),
    ):
        answer = await casework.post(f"/cases/{case_id}/notes", body, version=version)
        assert answer.status_code == 422, body
        assert [f["field"] for f in answer.json()["error"]["fields"]] == [field]
    auditor_write = await casework.post(
        f"/cases/{case_id}/notes",
        {"sensitivity": "normal", "text": "x"},
        version=version,
        user="aud",
        roles=["auditor"],
    )
    assert auditor_write.status_code == 403

    assert casework.runtime.engine is not None
    async with casework.runtime.engine.connect() as conn:
        purposes = set((await conn.execute(select(access_outbox.c.purpose))).scalars())
        stored = (await conn.execute(select(notes.c.author, notes.c.sensitivity))).all()
    assert "case notes" in purposes
    assert sorted(stored) == [
        ("worker-1", "confidential"),
        ("worker-1", "normal"),
        ("worker-2", "restricted"),
    ]
