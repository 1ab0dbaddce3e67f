"""Bad input gets a 4xx naming the field and the reason, in French or English, and writes
nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from shared.envelope import Aggregate
from tests.intake.conftest import Intake, report_body

EN = {"Accept-Language": "en"}
FUTURE = (datetime.now(UTC) + timedelta(days=2)).isoformat()


def child(**fields: Any) -> dict[str, Any]:
    return report_body(children=[{"name": "Awa", **fields}])


CASES: list[tuple[str, dict[str, Any], str, str]] = [
    (
        "missing channel",
        {k: v for k, v in report_body().items() if k != "channel"},
        "channel",
        "This field is required.",
    ),
    ("no child", report_body(children=[]), "children", "At least 1 item(s) needed."),
    ("no concern", report_body(concerns=[]), "concerns", "At least 1 item(s) needed."),
    (
        "unknown concern",
        report_body(concerns=["witchcraft"]),
        "concerns",
        "Unknown concern category; expected one of:",
    ),
    (
        "unknown channel",
        report_body(channel="pigeon"),
        "channel",
        "Unknown channel; expected one of:",
    ),
    ("unknown commune", report_body(commune="bj-atlantis"), "commune", "Unknown commune"),
    ("department is not a commune", report_body(commune="bj-zou"), "commune", "Unknown commune"),
    ("unknown sex", child(sex="x"), "children.0.sex", "Unknown sex; expected one of:"),
    (
        "unknown vulnerability",
        child(vulnerabilities=["rich"]),
        "children.0.vulnerabilities",
        "Unknown vulnerability factor; expected one of:",
    ),
    (
        "received in the future",
        report_body(received_at=FUTURE),
        "received_at",
        "This date is in the future.",
    ),
    ("received without zone", report_body(received_at="2026-01-01T10:00:00"), "received_at", ""),
    (
        "born in the future",
        child(date_of_birth=(date.today() + timedelta(days=3)).isoformat()),
        "children.0.date_of_birth",
        "This date is in the future.",
    ),
    (
        "born an adult",
        child(date_of_birth="1990-01-01"),
        "children.0.date_of_birth",
        "This date of birth makes the person an adult (18 or over).",
    ),
    ("age 18", child(age_years=18), "children.0.age_years", "Must be at most 17."),
    ("age -1", child(age_years=-1), "children.0.age_years", "Must be at least 0."),
    (
        "range reversed",
        child(age_range={"min": 9, "max": 5}),
        "children.0.age_range",
        "The lower age is above the upper age.",
    ),
    (
        "two ages",
        child(age_years=5, age_range={"min": 4, "max": 6}),
        "children.0",
        "Give one of date_of_birth, age_years or age_range, not several.",
    ),
    (
        "unidentified with a name",
        report_body(children=[{"unidentified": True, "name": "Ali"}]),
        "children.0",
        "An unidentified child has no name or alias.",
    ),
    (
        "25,000-character narrative",  # (5 MB never reaches the route: 413)
        report_body(narrative="x" * 25_000),
        "narrative",
        "Too long: at most 20000 characters.",
    ),
    ("wrong type", child(age_years="old"), "children.0.age_years", "A whole number is expected."),
    (
        "wrong type bool",
        report_body(immediate_danger="perhaps"),
        "immediate_danger",
        "true or false is expected.",
    ),
    (
        "children not a list",
        report_body(children={"name": "Awa"}),
        "children",
        "A list is expected.",
    ),
    ("unknown field", report_body(colour="red"), "colour", "This field is not expected here."),
    (
        "unknown child field",
        child(eyes="brown"),
        "children.0.eyes",
        "This field is not expected here.",
    ),
    (
        "anonymous with contact",
        report_body(reporter={"anonymous": True, "contact": "97000000"}),
        "reporter",
        "An anonymous reporter has no name or contact.",
    ),
    (
        "unknown urgency",
        report_body(urgency="soon"),
        "urgency",
        "Unknown urgency; expected one of:",
    ),
]


@pytest.mark.parametrize(("label", "body", "field", "reason"), CASES, ids=[c[0] for c in CASES])
async def test_bad_report_is_refused_with_field_and_reason(
    intake: Intake, label: str, body: dict[str, Any], field: str, reason: str
) -> None:
    operator = intake.as_("hotline_operator")
    answer = await operator.post("/reports", body, **EN)
    assert answer.status_code == 422, answer.text[:300]
    fields = {f["field"]: f["reason"] for f in answer.json()["error"]["fields"]}
    assert field in fields, fields
    assert fields[field].startswith(reason)
    french = await operator.post("/reports", body)
    assert french.json()["error"]["message"] == "La requête n'est pas valide."
    assert all(f["reason"] for f in french.json()["error"]["fields"])
    assert (await operator.get("/reports")).json()["total"] == 0  # nothing half-written
    if "name" in str(body.get("children")):
        assert "Awa" not in answer.text  # the child's name is not echoed back


async def test_reasons_are_in_french_by_default(intake: Intake) -> None:
    answer = await intake.as_("hotline_operator").post(
        "/reports", report_body(concerns=["witchcraft"], children=[{"age_years": 30}])
    )
    fields = {f["field"]: f["reason"] for f in answer.json()["error"]["fields"]}
    assert fields["concerns"].startswith("Catégorie inconnu(e) ; valeurs possibles :")
    assert "witchcraft" not in fields["concerns"]  # a rejected value is never repeated
    assert fields["children.0.age_years"] == "Doit être inférieur ou égal à 17."


async def test_empty_and_malformed_bodies(intake: Intake) -> None:
    operator = intake.as_("hotline_operator")
    empty = await operator.post("/reports", None, **EN)
    assert empty.status_code == 422
    assert empty.json()["error"]["fields"][0]["field"] == "body"
    obj = await operator.post("/reports", {}, **EN)
    missing = {f["field"] for f in obj.json()["error"]["fields"]}
    assert {"channel", "received_at", "commune", "concerns", "children"} <= missing
    garbage = await intake.client.post(
        "/reports",
        content=b"{nope",
        headers={**operator.headers, "content-type": "application/json", **EN},
    )
    assert garbage.status_code == 422
    assert garbage.json()["error"]["fields"][0]["reason"] == "The body is not valid JSON."
    listed = await operator.post("/reports", [1, 2], **EN)
    assert listed.status_code == 422


async def test_bad_screening_and_amendment_bodies(intake: Intake) -> None:
    rid = (await intake.as_("hotline_operator").post("/reports", report_body())).json()["report_id"]
    screener = intake.as_("screener")
    url = f"/reports/{rid}/screening"
    cases = [
        ({"decision": "maybe", "urgency": "high", "rationale": "abc"}, "decision"),
        ({"decision": "not_a_concern", "urgency": "soon", "rationale": "abc"}, "urgency"),
        ({"decision": "not_a_concern", "urgency": "high"}, "rationale"),
        ({"decision": "not_a_concern", "urgency": "high", "rationale": "abc", "x": 1}, "x"),
        ({"decision": "not_a_concern", "urgency": "high", "rationale": "a" * 3000}, "rationale"),
    ]
    for body, field in cases:
        answer = await screener.post(url, body, **EN)
        assert answer.status_code == 422
        assert field in {f["field"] for f in answer.json()["error"]["fields"]}
    amend = f"/reports/{rid}/amendments"
    officer = intake.as_("intake_officer")
    for body, field in [
        ({"changes": {"commune": "bj-atlantis"}, "reason": "abc"}, "changes.commune"),
        ({"changes": {"received_at": FUTURE}, "reason": "abc"}, "changes.received_at"),
        ({"changes": {"children": []}, "reason": "abc"}, "changes.children"),
        ({"changes": {"narrative": "ok"}}, "reason"),
    ]:
        answer = await officer.post(amend, body, **EN)
        assert answer.status_code == 422, answer.text
        assert field in {f["field"] for f in answer.json()["error"]["fields"]}
    unknown = await screener.post(
        "/reports/00000000-0000-7000-8000-000000000000/screening",
        {"decision": "not_a_concern", "urgency": "high", "rationale": "abc"},
    )
    assert unknown.status_code == 404
    stored = await intake.runtime.store.load(Aggregate("intake", "hq", "report", rid))
    names = [e.event.name for e in stored]
    assert names == ["ReportRegistered"]
