"""Child records through the API: suggested duplicates, confirm and reject, search; and
complaints routed to the oversight role."""

from __future__ import annotations

import asyncio

from contracts.intake import ReportAccepted
from shared.envelope import Aggregate
from tests.intake.conftest import Intake, ago, report_body


async def _report(intake: Intake, name: str, **child: object) -> dict:
    body = report_body(children=[{"name": name, "sex": "female", "age_years": 11, **child}])
    answer = await intake.as_("hotline_operator").post("/reports", body)
    assert answer.status_code == 201, answer.text
    return answer.json()


async def test_a_known_child_is_suggested_then_confirmed_and_linked(intake: Intake) -> None:
    first = await _report(intake, "Fatoumata Diallo")
    second = await _report(intake, "Fatimata Diallo")
    other = await _report(intake, "Fatoumata Bah")
    old_id = first["children"][0]["child_id"]
    new = second["children"][0]
    assert [s["candidate_id"] for s in new["suggested_duplicates"]] == [old_id]
    assert other["children"][0]["suggested_duplicates"] == []
    officer = intake.as_("intake_officer")
    url = f"/children/{new['child_id']}/duplicates/{old_id}"
    confirmed = await officer.post(f"{url}/confirm", {"note": "Même mère"})
    assert confirmed.status_code == 200, confirmed.text
    again = await officer.post(f"{url}/reject", {}, **{"Accept-Language": "en"})
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_resolved"
    view = (await officer.get(f"/children/{new['child_id']}")).json()
    assert view["linked"] == [old_id] and view["suggested_duplicates"][0]["status"] == "confirmed"
    assert (await officer.get(f"/children/{old_id}")).json()["linked"] == [new["child_id"]]
    # Both histories stay; accepting the second report names the earlier record.
    await intake.as_("screener").post(
        f"/reports/{second['report_id']}/screening",
        {"decision": "protection_concern", "urgency": "high", "rationale": "Placement abusif"},
    )
    stored = await intake.runtime.store.load(
        Aggregate("intake", "hq", "report", second["report_id"])
    )
    accepted = stored[-1].event
    assert isinstance(accepted, ReportAccepted) and accepted.children[0].child_id == old_id
    assert len(await intake.runtime.store.load(Aggregate("intake", "hq", "child", old_id))) == 1


async def test_reject_and_concurrent_resolutions(intake: Intake) -> None:
    first = await _report(intake, "Kossivi Agbodjan", sex="male", age_years=9)
    second = await _report(intake, "Kossi Agbodjan", sex="male", age_years=10)
    old_id, new_id = first["children"][0]["child_id"], second["children"][0]["child_id"]
    assert second["children"][0]["suggested_duplicates"][0]["candidate_id"] == old_id
    url = f"/children/{new_id}/duplicates/{old_id}"
    a, b = intake.as_("screener", user="a"), intake.as_("supervisor", user="b")
    answers = await asyncio.gather(a.post(f"{url}/reject", {}), b.post(f"{url}/confirm", {}))
    assert sorted(r.status_code for r in answers) == [200, 409]
    nothing = await a.post(f"/children/{new_id}/duplicates/{new_id}/confirm", {})
    assert nothing.status_code == 404
    assert (await intake.as_("hotline_operator").post(f"{url}/confirm", {})).status_code == 403
    stranger = intake.as_("screener", agency="police-parakou")
    assert (await stranger.post(f"{url}/confirm", {})).status_code == 404


async def test_search_children_by_name_variant_records_the_access(intake: Intake) -> None:
    await _report(intake, "Aïssatou Sow")
    await _report(intake, "Mariama Traoré")
    officer = intake.as_("intake_officer")
    found = await officer.get("/children", name="aissata sow")
    assert [c["details"]["name"] for c in found.json()["items"]] == ["Aïssatou Sow"]
    assert (await intake.as_("statistician").get("/children", name="sow")).status_code == 403
    assert (await intake.as_("intake_officer", agency="x").get("/children", name="sow")).json()[
        "items"
    ] == []
    assert (await officer.get("/children", name="a")).status_code == 422


async def test_complaints_reach_oversight_not_the_accused(intake: Intake) -> None:
    filer = intake.as_("hotline_operator")
    body = {
        "about_user": "agent-7",
        "about_agency": "police-parakou",
        "complainant": "family",
        "account": "L'agent a humilié l'enfant.",
    }
    answer = await filer.post("/complaints", body, **{"Idempotency-Key": "plainte-1"})
    assert answer.status_code == 201
    again = await filer.post("/complaints", body, **{"Idempotency-Key": "plainte-1"})
    assert again.json()["complaint_id"] == answer.json()["complaint_id"]
    assert (await filer.get("/complaints")).status_code == 403
    oversight = intake.as_("oversight", user="ombud-1", agency="inspection")
    items = (await oversight.get("/complaints")).json()["items"]
    assert [c["about_user"] for c in items] == ["agent-7"]
    accused = intake.as_("oversight", user="agent-7", agency="police-parakou")
    assert (await accused.get("/complaints")).json()["items"] == []
    bad = await filer.post("/complaints", {**body, "complainant": "alien"})
    assert bad.status_code == 422


async def test_received_long_ago_is_listed_overdue_before_the_policy_runs(intake: Intake) -> None:
    await intake.as_("hotline_operator").post("/reports", report_body(received_at=ago(days=8)))
    items = (await intake.as_("screener").get("/reports")).json()["items"]
    assert items[0]["overdue"] is True
