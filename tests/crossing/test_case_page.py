"""What the case page shows its owner after the journey: the child's name as intake's record
now reads, and a declined referral's reason and the unit the decliner suggested."""

from __future__ import annotations

from tests.crossing.conftest import OCPM, SHELTER_UNIT, World
from tests.crossing.journey import CORRECTED, Journey


async def test_the_owner_sees_the_childs_name_and_why_a_referral_was_declined(
    world: World, journey: Journey
) -> None:
    case = await world.casework.ok(
        "GET", f"/cases/{journey.case_id}", world.person("case_worker", OCPM)
    )
    assert case["child_display_name"] == CORRECTED  # corrected from the case, applied by intake
    actions = {a["referral_id"]: a for g in case["goals"] for a in g["actions"]}
    declined = actions[journey.hospital_referral]
    assert declined["referral_status"] == "declined"
    assert declined["referral_decline"] == {
        "reason": "No paediatric bed tonight",
        "suggested_unit": SHELTER_UNIT,
    }
    accepted = actions[journey.shelter_referral]
    assert accepted["referral_status"] == "accepted" and accepted["referral_decline"] is None
