"""One child's whole journey across the four services, run once for the tests that read its
log (causation, the auditor's history and state):

1. the hotline registers a report and screens it to the police child protection unit;
2. the police open, assign, assess and plan: one action asks the NGO shelter for a place
   (accepted), another asks the hospital (declined, suggesting the shelter);
3. the case worker corrects the child's name from the case; intake applies it;
4. the case is transferred to the OCPM, which accepts;
5. the stage's due date passes (the policy's sweep flags it);
6. a second report on the same child, confirmed as a duplicate, joins the case (a story of
   its own, told last)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from services.casework.app.policies import flag_overdue_once
from services.intake.app.case_corrections import apply_reported_corrections
from tests.crossing.conftest import (
    HOSPITAL,
    HOSPITAL_UNIT,
    HOTLINE,
    NOW,
    OCPM,
    POLICE,
    POLICE_UNIT,
    SHELTER,
    SHELTER_UNIT,
    World,
)
from tests.journey_support import caught_up, eventually

NAME, CORRECTED = "Gbèmisola Akpovi", "Gbèmisola Akpovi-Dah"
VIEWS = {"child_views": "She wants to go back to school."}


@dataclass(frozen=True)
class Journey:
    case_id: str
    child_id: str
    report_id: str  # the report the case opened from
    later_report_id: str  # the second report, attached last
    later_child_id: str
    shelter_referral: str
    hospital_referral: str


def consent() -> dict[str, Any]:
    return {"given": True, "given_by": "child", "given_at": NOW.isoformat()}


async def run(world: World) -> Journey:
    registered = await world.register(NAME, hours_ago=30)
    report_id, child_id = registered["report_id"], registered["children"][0]["child_id"]
    await world.screen(report_id, receiving_agency=POLICE, receiving_unit=POLICE_UNIT)
    case_id = (await world.case_of(child_id, POLICE))["case_id"]

    worker, supervisor = (world.person(r, POLICE) for r in ("case_worker", "supervisor"))
    team = {"worker_id": f"case_worker@{POLICE}", "supervisor_id": f"supervisor@{POLICE}"}
    await world.act(case_id, "assignment", team, supervisor)
    await world.act(case_id, "stage", {"to": "initial_assessment"}, worker)
    initial = {"kind": "initial", "needs": ["transit_shelter"], "risk_level": "high", **VIEWS}
    await world.act(case_id, "assessments", initial, worker)
    await world.act(case_id, "stage", {"to": "comprehensive_assessment"}, worker)
    thorough = {**initial, "kind": "comprehensive", "risk_level": "medium"}
    await world.act(case_id, "assessments", thorough, worker)
    await world.act(case_id, "stage", {"to": "case_plan"}, worker)
    goal = await world.act(case_id, "plan/goals", {"text": "A safe place to sleep"}, worker)
    await caught_up(world.referral, world.casework, "CASEWORK")  # referral knows the owner

    def action(agency: str, unit: str, kind: str) -> dict[str, Any]:
        return {
            "goal_id": goal["goal_id"],
            "text": f"{kind} for the child",
            "responsible_agency": agency,
            "service_kind": kind,
            "due_on": (NOW + timedelta(days=7)).date().isoformat(),
            "referral_request": {
                "to_unit": unit,
                "urgency": "high",
                "reason": "She sleeps at the market",
                "consent": consent(),
                "shared_fields": ["child_age_band", "child_sex", "urgency"],
            },
        }

    shelter = await world.act(
        case_id, "plan/actions", action(SHELTER, SHELTER_UNIT, "transit_shelter"), worker
    )
    hospital = await world.act(
        case_id, "plan/actions", action(HOSPITAL, HOSPITAL_UNIT, "medical"), worker
    )

    async def made(referral_id: str) -> bool:
        answer = await world.referral.http.get(
            f"/referrals/{referral_id}", headers=world.person("auditor", OCPM)
        )
        return answer.status_code == 200

    for asked in (shelter, hospital):
        await eventually(lambda r=asked["referral_id"]: made(r), "referral to make it")
    coordinator = world.person("unit_coordinator", SHELTER)
    await world.referral.ok("POST", f"/referrals/{shelter['referral_id']}/accept", coordinator, {})
    declined = {"reason": "No paediatric bed tonight", "suggested_unit": SHELTER_UNIT}
    await world.referral.ok(
        "POST",
        f"/referrals/{hospital['referral_id']}/decline",
        world.person("unit_coordinator", HOSPITAL),
        declined,
    )

    # The worker learns the child's full name; intake applies it to the record.
    correction = {"changes": {"name": CORRECTED}, "reason": "Her aunt gave the family name"}
    await world.act(case_id, "child-corrections", correction, worker, status=202)
    await caught_up(world.intake, world.casework, "CASEWORK")
    assert world.intake.runtime.engine is not None
    await apply_reported_corrections(world.intake.runtime)

    await world.transfer(case_id, OCPM)
    # A year later nobody moved the case on: the sweep flags the stage once.
    assert await flag_overdue_once(world.casework.runtime, datetime.now(UTC) + timedelta(days=365))

    # Another report on the same child, told last since it is a story of its own.
    later = await world.register(CORRECTED, hours_ago=2)
    later_child = later["children"][0]["child_id"]
    suggested = [s["candidate_id"] for s in later["children"][0]["suggested_duplicates"]]
    assert child_id in suggested, later
    await world.intake.ok(
        "POST",
        f"/children/{later_child}/duplicates/{child_id}/confirm",
        world.person("intake_officer", HOTLINE),
        {},
    )
    await world.screen(later["report_id"], receiving_agency=OCPM)

    async def attached() -> bool:
        case = await world.casework.ok(
            "GET", f"/cases/{case_id}", world.person("case_worker", OCPM)
        )
        return len(case["reports"]) == 2

    await eventually(attached, "the second report to join the case")
    # Every read model has the whole journey.
    services = {"INTAKE": world.intake, "REFERRAL": world.referral, "CASEWORK": world.casework}
    for reader in (world.intake, world.referral, world.casework, world.reporting):
        for stream, writer in services.items():
            await caught_up(reader, writer, stream)
    return Journey(
        case_id=case_id,
        child_id=child_id,
        report_id=report_id,
        later_report_id=later["report_id"],
        later_child_id=later_child,
        shelter_referral=shelter["referral_id"],
        hospital_referral=hospital["referral_id"],
    )
