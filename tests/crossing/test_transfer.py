"""The child's identity follows the case: before a transfer is accepted the owner reads the
child, after it only the new owner does, and every read and refusal is on the record."""

from __future__ import annotations

from typing import Any

from tests.crossing.conftest import HOTLINE, OCPM, POLICE, POLICE_UNIT, World
from tests.journey_support import caught_up, eventually

NAME = "Sènan Adjovi"


async def reads(world: World, child_id: str, report_id: str, agency: str) -> tuple[int, int]:
    worker = world.person("case_worker", agency)
    child = await world.intake.http.get(f"/children/{child_id}", headers=worker)
    report = await world.intake.http.get(f"/reports/{report_id}", headers=worker)
    if child.status_code == 200:
        assert child.json()["details"]["name"] == NAME
    else:
        assert NAME not in child.text and NAME not in report.text
    return child.status_code, report.status_code


async def test_the_new_owner_gains_the_child_and_the_old_one_loses_it(world: World) -> None:
    registered = await world.register(NAME)
    report_id, child_id = registered["report_id"], registered["children"][0]["child_id"]
    await world.screen(report_id, receiving_agency=POLICE, receiving_unit=POLICE_UNIT)
    case = await world.case_of(child_id, POLICE)
    await caught_up(world.intake, world.casework, "CASEWORK")

    assert await reads(world, child_id, report_id, POLICE) == (200, 200)
    assert await reads(world, child_id, report_id, OCPM) == (404, 404)

    await world.transfer(case["case_id"], OCPM)
    await caught_up(world.intake, world.casework, "CASEWORK")

    assert await reads(world, child_id, report_id, OCPM) == (200, 200)
    assert await reads(world, child_id, report_id, POLICE) == (404, 404)
    # The new owner's case page names the child; the old owner's answers as missing.
    mine = await world.casework.ok(
        "GET", f"/cases/{case['case_id']}", world.person("case_worker", OCPM)
    )
    assert mine["agency"] == OCPM and mine["child_display_name"] == NAME
    gone = await world.casework.http.get(
        f"/cases/{case['case_id']}", headers=world.person("case_worker", POLICE)
    )
    assert gone.status_code == 404
    # The hotline keeps what it recorded itself.
    assert (
        await world.intake.http.get(
            f"/children/{child_id}", headers=world.person("screener", HOTLINE)
        )
    ).is_success

    # Every read and every refusal of the child's record, in the order they happened.
    auditor = world.person("auditor", OCPM)

    async def child_accesses() -> list[tuple[str, str, str]] | None:
        answer = await world.reporting.ok(
            "GET", f"/audit/access?record_id={child_id}&page_size=50", auditor
        )
        found = [
            (i["agency"], i["role"], i["outcome"])
            for i in reversed(answer["items"])
            if i["service"] == "intake" and i["role"] == "case_worker"
        ]
        return found if len(found) >= 4 else None

    accesses: Any = await eventually(child_accesses, "the child's access records")
    assert accesses == [
        (POLICE, "case_worker", "read"),
        (OCPM, "case_worker", "refused"),
        (OCPM, "case_worker", "read"),
        (POLICE, "case_worker", "refused"),
    ]
