"""The HTTP contract: agency scoping, roles, optimistic concurrency, idempotency, the child's
views, bad input in both languages, and the supervisor's paged and filtered views."""

from __future__ import annotations

import pytest

from shared.envelope import Aggregate
from tests.casework.conftest import Client, Upstream

pytestmark = pytest.mark.connected

SUP = {"user": "sup-1", "roles": ["supervisor"]}


async def new_case(casework: Client, upstream: Upstream, **report: object) -> str:
    _, (child,), _ = await upstream.report(**report)  # type: ignore[arg-type]
    return await casework.case_of(child)


async def assigned_case(casework: Client, upstream: Upstream, **report: object) -> str:
    case_id = await new_case(casework, upstream, **report)
    await casework.settle("REFERRAL", await upstream.staff("worker-1"))
    await casework.act(case_id, "assignment", {"worker_id": "worker-1", "supervisor_id": "sup-1"})
    return case_id


async def test_another_agency_can_neither_read_nor_amend_a_case(
    casework: Client, upstream: Upstream
) -> None:
    case_id = await new_case(casework, upstream)
    version = (await casework.case(case_id))["version"]
    other = {"user": "w-upe", "agency": "upe-rabat"}
    assert (await casework.get(f"/cases/{case_id}", **other)).status_code == 404
    listed = await casework.get("/cases", **other)
    assert listed.status_code == 200 and listed.json()["total"] == 0
    amend = await casework.post(
        f"/cases/{case_id}/closure", {"reason": "moved"}, version=version, **other
    )
    assert amend.status_code == 404
    assert (await casework.case(case_id))["status"] == "open"
    overdue = await casework.get("/supervision/overdue", user="s", roles=["supervisor"],
                                 agency="upe-rabat")  # fmt: skip
    assert overdue.json()["total"] == 0
    # Auditors read every agency and write nothing; statisticians read no case at all.
    auditor = {"user": "aud-1", "roles": ["auditor"], "agency": "oversight"}
    assert (await casework.get(f"/cases/{case_id}", **auditor)).status_code == 200
    audit_write = await casework.post(
        f"/cases/{case_id}/closure", {"reason": "moved"}, version=version, **auditor
    )
    assert audit_write.status_code == 403
    stats = await casework.get(f"/cases/{case_id}", user="st", roles=["statistician"])
    assert stats.status_code == 403 and stats.json()["error"]["code"] == "forbidden"
    worker_views = await casework.get("/supervision/caseload")
    assert worker_views.status_code == 403
    anonymous = await casework.http.get(f"/cases/{case_id}")
    assert anonymous.status_code == 401


async def test_a_stale_version_is_a_conflict_naming_the_current_one(
    casework: Client, upstream: Upstream
) -> None:
    case_id = await assigned_case(casework, upstream)
    seen = (await casework.case(case_id))["version"]
    # The read names the site that owns the case (decision 0028).
    read = await casework.http.get(f"/cases/{case_id}", headers=casework.headers())
    assert read.headers["Relais-Owner-Site"] == "hq"
    first = await casework.post(
        f"/cases/{case_id}/stage", {"to": "initial_assessment"}, version=seen
    )
    assert first.status_code == 200 and first.headers["ETag"] == f'"{first.json()["version"]}"'
    stale = await casework.post(
        f"/cases/{case_id}/closure", {"reason": "moved"}, version=seen, lang="en"
    )
    assert stale.status_code == 409
    error = stale.json()["error"]
    assert error["code"] == "version_conflict"
    assert error["current_version"] == first.json()["version"]
    assert error["expected_version"] == seen
    unknown = await casework.post(f"/cases/{case_id}/closure", {"reason": "moved"}, version=1)
    assert unknown.status_code == 409
    missing = await casework.post(f"/cases/{case_id}/closure", {"reason": "moved"}, lang="en")
    assert missing.status_code == 428 and missing.json()["error"]["field"] == "If-Match"
    garbled = await casework.http.post(
        f"/cases/{case_id}/closure",
        json={"reason": "moved"},
        headers={**casework.headers(), "If-Match": "yesterday"},
    )
    assert garbled.status_code == 422 and garbled.json()["error"]["code"] == "invalid_version"


async def test_a_retried_command_with_its_idempotency_key_writes_once(
    casework: Client, upstream: Upstream
) -> None:
    case_id = await assigned_case(casework, upstream)
    seen = (await casework.case(case_id))["version"]
    ask = {"to": "initial_assessment"}
    first = await casework.post(f"/cases/{case_id}/stage", ask, version=seen, key="k-1")
    again = await casework.post(f"/cases/{case_id}/stage", ask, version=seen, key="k-1")
    assert first.status_code == again.status_code == 200
    assert again.json()["duplicate"] is True
    assert again.json()["version"] == first.json()["version"]
    assert casework.runtime.store is not None
    stored = await casework.runtime.store.load(Aggregate("casework", "hq", "case", case_id))
    assert [r.event.name for r in stored].count("StageChanged") == 1
    # Sent again at the new version, the same request is decided afresh, and refused.
    afresh = await casework.post(
        f"/cases/{case_id}/stage", ask, version=first.json()["version"], key="k-2"
    )
    assert afresh.status_code == 409
    assert afresh.json()["error"]["code"] == "stage_not_forward"


async def test_the_childs_views_are_required_in_assessments_and_major_decisions(
    casework: Client, upstream: Upstream
) -> None:
    case_id = await assigned_case(casework, upstream)
    await casework.act(case_id, "stage", {"to": "initial_assessment"})
    version = (await casework.case(case_id))["version"]
    bare = {"kind": "initial", "needs": [], "risk_level": "low"}
    silent = await casework.post(f"/cases/{case_id}/assessments", bare, version=version)
    assert silent.status_code == 422
    assert silent.json()["error"]["field"] == "child_views"
    assert silent.json()["error"]["message"].startswith("Consignez l'opinion de l'enfant")
    english = await casework.post(f"/cases/{case_id}/assessments", bare, version=version, lang="en")
    assert english.json()["error"]["message"].startswith("Record the child's views")
    infant = {**bare, "views_not_heard_reason": "age"}
    assert (
        await casework.post(f"/cases/{case_id}/assessments", infant, version=version)
    ).status_code == 200
    await casework.act(case_id, "stage", {"to": "comprehensive_assessment"})
    await casework.act(case_id, "assessments", {**infant, "kind": "comprehensive"})
    await casework.act(case_id, "stage", {"to": "best_interests"})
    version = (await casework.case(case_id))["version"]
    decision = {
        "decision_kind": "return_to_family",
        "decision": "Return to the mother",
        "options_considered": ["Return", "Kinship care"],
        "participants": ["worker-1", "mother"],
    }
    refused = await casework.post(f"/cases/{case_id}/best-interests", decision, version=version)
    assert refused.status_code == 422 and refused.json()["error"]["code"] == (
        "child_views_required"
    )
    heard = {**decision, "child_views": "I miss my mother."}
    assert (
        await casework.post(f"/cases/{case_id}/best-interests", heard, version=version)
    ).status_code == 200


async def test_bad_input_names_the_field_and_the_reason(
    casework: Client, upstream: Upstream
) -> None:
    case_id = await assigned_case(casework, upstream)
    version = (await casework.case(case_id))["version"]

    async def post(path: str, body: dict[str, object], lang: str = "fr") -> dict[str, object]:
        answer = await casework.post(f"/cases/{case_id}/{path}", body, version=version, lang=lang)
        assert answer.status_code == 422, answer.text
        error: dict[str, object] = answer.json()["error"]
        return error

    stage = await post("stage", {"to": "heaven", "extra": 1})
    fields = {f["field"]: f["reason"] for f in stage["fields"]}  # type: ignore[attr-defined]
    assert fields["to"].startswith("Valeur inconnue")
    assert fields["extra"] == "Ce champ n'est pas attendu ici."
    closure = await post("closure", {"reason": "bored"}, lang="en")
    assert (closure["field"], closure["message"]) == ("reason", "Unknown closure reason.")
    assert (await post("closure", {}))["fields"] == [
        {"field": "reason", "reason": "Ce champ est obligatoire.", "type": "missing"}
    ]
    closing = await post("stage", {"to": "closure"}, lang="en")
    assert closing["code"] == "use_closure_request" and closing["field"] == "to"
    action = await post(
        "plan/actions",
        {
            "goal_id": "g",
            "text": "",
            "responsible_agency": "ocpm",
            "service_kind": "medical",
            "due_on": "next week",
        },
        lang="en",
    )
    fields = {f["field"]: f["reason"] for f in action["fields"]}  # type: ignore[attr-defined]
    assert fields == {
        "text": "Too short: at least 1 characters.",
        "due_on": "A date is expected (YYYY-MM-DD).",
    }
    assessment = await post(
        "assessments", {"kind": "initial", "risk_level": "extreme", "child_views": "x" * 5000}
    )
    fields = {f["field"] for f in assessment["fields"]}  # type: ignore[attr-defined]
    assert fields == {"risk_level", "child_views"}
    bad_id = await casework.get("/cases/not.a*subject", roles=["supervisor"])
    assert bad_id.status_code == 422
    nowhere = await casework.get("/cases/0197c1d2-0000-7000-8000-000000000000", lang="en")
    assert nowhere.status_code == 404 and nowhere.json()["error"]["message"] == "No such case."
    paging = await casework.get("/cases?limit=0&offset=-1", lang="en")
    assert {f["field"] for f in paging.json()["error"]["fields"]} == {"limit", "offset"}


async def test_supervisor_views_are_paged_filtered_and_scoped(
    casework: Client, upstream: Upstream
) -> None:
    high = await assigned_case(casework, upstream, urgency="emergency")
    low = await new_case(casework, upstream, urgency="normal")
    await new_case(casework, upstream, urgency="normal", agency="upe-rabat")
    await casework.act(high, "stage", {"to": "initial_assessment"})

    page = await casework.get("/cases?limit=1&offset=0", **SUP)
    assert page.json()["total"] == 2 and len(page.json()["items"]) == 1
    second = await casework.get("/cases?limit=1&offset=1", **SUP)
    assert {page.json()["items"][0]["case_id"], second.json()["items"][0]["case_id"]} == {
        high,
        low,
    }
    by_stage = await casework.get("/cases?stage=initial_assessment", **SUP)
    assert [i["case_id"] for i in by_stage.json()["items"]] == [high]
    by_risk = await casework.get("/cases?risk_level=low&status=open", **SUP)
    assert [i["case_id"] for i in by_risk.json()["items"]] == [low]
    mine = await casework.get("/cases?worker_id=worker-1")
    assert [i["case_id"] for i in mine.json()["items"]] == [high]

    stages = (await casework.get("/supervision/stages", **SUP)).json()["stages"]
    assert stages["initial_assessment"]["high"] == 1 and stages["registration"]["low"] == 1
    assert "closure" not in stages
    load = (await casework.get("/supervision/caseload", **SUP)).json()["workers"]
    assert {(w["worker_id"], w["open_cases"], w["high_risk"]) for w in load} == {
        ("worker-1", 1, 1),
        (None, 1, 0),
    }
    auditor = {"user": "aud", "roles": ["auditor"], "agency": "oversight"}
    everywhere = await casework.get("/cases", **auditor)
    assert everywhere.json()["total"] == 3
    one_agency = await casework.get("/cases?agency=upe-rabat", **auditor)
    assert one_agency.json()["total"] == 1
