"""The matcher through the real intake service (NATS and PostgreSQL): twins of one report
and siblings of two reports are not suggested; a clipped Yoruba name is, with its
explanation; decisions become weights (an event) that later suggestions name."""

from __future__ import annotations

from typing import Any

from services.intake.app.matcher_learning import learn_once
from shared.envelope import Aggregate
from tests.intake.conftest import Intake, report_body


async def _register(intake: Intake, *children: dict[str, Any], **report: Any) -> dict[str, Any]:
    body = report_body(children=list(children), commune="bj-plateau-ketou", **report)
    answer = await intake.as_("hotline_operator").post("/reports", body)
    assert answer.status_code == 201, answer.text
    return answer.json()


async def test_twins_siblings_and_a_clipped_yoruba_name(intake: Intake) -> None:
    twins = await _register(
        intake,
        {"name": "Taiwo Bello", "sex": "male", "age_years": 3},
        {"name": "Kehinde Bello", "sex": "male", "age_years": 3},
    )
    assert [c["suggested_duplicates"] for c in twins["children"]] == [[], []]
    mother = {"name": "Awa Diallo", "relation": "parent", "contact": "+229 97 11 22 33"}
    await _register(
        intake, {"name": "Moussa Diallo", "sex": "male", "age_years": 9}, reporter=mother
    )
    brother = await _register(
        intake, {"name": "Moustapha Diallo", "sex": "male", "age_years": 11}, reporter=mother
    )
    assert brother["children"][0]["suggested_duplicates"] == []
    first = await _register(intake, {"name": "Oluwaseun Adeyemi", "sex": "male", "age_years": 13})
    again = await _register(intake, {"name": "Seun Adeyemi", "sex": "male", "age_years": 14})
    [found] = again["children"][0]["suggested_duplicates"]
    assert found["candidate_id"] == first["children"][0]["child_id"]
    assert found["explanation"]["en"].startswith("Seun is a short form of Oluwaseun; ")
    assert "same commune" in found["explanation"]["en"]
    assert "ages 14 and 13" in found["explanation"]["en"]
    assert found["explanation"]["fr"].startswith("Seun est une forme courte de Oluwaseun ; ")
    assert found["weights_id"].startswith("w-")
    view = await intake.as_("intake_officer").get(f"/children/{again['children'][0]['child_id']}")
    [shown] = view.json()["suggested_duplicates"]
    assert shown["explanation"] == found["explanation"] and shown["status"] == "pending"


async def test_decisions_become_weights_that_later_suggestions_name(intake: Intake) -> None:
    rt = intake.runtime
    rt.settings = rt.settings.model_copy(update={"matcher_min_decisions": 2})
    officer = intake.as_("intake_officer")
    for name, again, same in [
        ("Fatoumata Diallo", "Fatimata Diallo", True),
        ("Aminata Chabi", "Aminatou Chabi", False),
    ]:
        await _register(intake, {"name": name, "sex": "female", "age_years": 11})
        second = await _register(intake, {"name": again, "sex": "female", "age_years": 11})
        child = second["children"][0]
        [s] = child["suggested_duplicates"]
        verb = "confirm" if same else "reject"
        url = f"/children/{child['child_id']}/duplicates/{s['candidate_id']}/{verb}"
        assert (await officer.post(url, {})).status_code == 200
    learned = await learn_once(rt)
    assert learned is not None and (learned.confirmed, learned.rejected) == (1, 1)
    assert await learn_once(rt) is None  # same decisions, same weights: nothing new
    stored = await rt.store.load(Aggregate("intake", "hq", "matcher", "weights"))
    assert [r.event.weights_id for r in stored] == [learned.weights_id]
    await _register(intake, {"name": "Rakiatou Touré", "sex": "female", "age_years": 16})
    later = await _register(intake, {"name": "Rakia Toure", "sex": "female", "age_years": 16})
    [s] = later["children"][0]["suggested_duplicates"]
    assert s["weights_id"] == learned.weights_id
