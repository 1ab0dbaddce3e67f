"""Routing at screening: the screener sends the case to an agency of the directory that
handles child protection; the case opens there, and only there."""

from __future__ import annotations

import pytest

from tests.crossing.conftest import (
    HOSPITAL,
    HOSPITAL_UNIT,
    HOTLINE,
    OCPM_UNIT,
    POLICE,
    POLICE_UNIT,
    World,
)
from tests.journey_support import caught_up

NAME = "Afiavi Houngbédji"


async def test_a_case_screened_to_the_police_opens_there_and_the_hotline_cannot_read_it(
    world: World,
) -> None:
    registered = await world.register(NAME)
    report_id, child_id = registered["report_id"], registered["children"][0]["child_id"]
    screened = await world.screen(report_id, receiving_agency=POLICE, receiving_unit=POLICE_UNIT)
    assert screened["accepted"] is True
    assert (screened["receiving_agency"], screened["receiving_unit"]) == (POLICE, POLICE_UNIT)

    case = await world.case_of(child_id, POLICE)
    assert (case["agency"], case["unit"]) == (POLICE, POLICE_UNIT)
    # The police case worker sees who the child is, on the case page and in intake.
    assert case["child_display_name"] == NAME
    worker = world.person("case_worker", POLICE)
    await caught_up(world.intake, world.casework, "CASEWORK")
    child = await world.intake.ok("GET", f"/children/{child_id}", worker)
    assert child["details"]["name"] == NAME
    report = await world.intake.ok("GET", f"/reports/{report_id}", worker)
    assert report["document"]["narrative"].startswith(NAME)
    assert report["document"]["reporter"]["contact"] == "97000000"

    # The hotline screened it and does not own it: its people cannot read the case.
    for role in ("case_worker", "supervisor"):
        answer = await world.casework.http.get(
            f"/cases/{case['case_id']}", headers=world.person(role, HOTLINE)
        )
        assert answer.status_code == 404, (role, answer.text)
    listed = await world.casework.ok(
        "GET", f"/cases?child_id={child_id}", world.person("supervisor", HOTLINE)
    )
    assert listed["items"] == []
    # It keeps what it recorded itself: the report and the child record.
    screener = world.person("screener", HOTLINE)
    assert (await world.intake.http.get(f"/reports/{report_id}", headers=screener)).is_success
    assert (await world.intake.http.get(f"/children/{child_id}", headers=screener)).is_success
    # A case worker of the hotline has no case of this child: nothing to read.
    hotline_worker = world.person("case_worker", HOTLINE)
    refused = await world.intake.http.get(f"/children/{child_id}", headers=hotline_worker)
    assert refused.status_code == 404


async def test_without_a_receiving_agency_the_case_stays_with_the_screeners_agency(
    world: World,
) -> None:
    registered = await world.register("Mahougnon Sossa", agency=POLICE)
    child_id = registered["children"][0]["child_id"]
    screened = await world.screen(registered["report_id"], agency=POLICE)
    assert screened["receiving_agency"] == POLICE
    case = await world.case_of(child_id, POLICE)
    assert case["agency"] == POLICE


@pytest.mark.parametrize(
    ("routing", "field", "code", "en", "fr"),
    [
        (
            {"receiving_agency": "ghost-agency"},
            "receiving_agency",
            "unknown_agency",
            "No agency of the directory",
            "Aucune structure de l'annuaire",
        ),
        (
            {"receiving_agency": HOSPITAL},
            "receiving_agency",
            "agency_without_child_protection",
            "This agency has no unit that handles child protection",
            "Cette structure n'a aucune unité chargée de la protection",
        ),
        (
            {"receiving_agency": POLICE, "receiving_unit": OCPM_UNIT},
            "receiving_unit",
            "unit_not_of_agency",
            "This unit is not one of the receiving agency's units",
            "Cette unité n'est pas une unité de la structure destinataire",
        ),
        (
            {"receiving_agency": HOSPITAL, "receiving_unit": HOSPITAL_UNIT},
            "receiving_agency",
            "agency_without_child_protection",
            "This agency has no unit",
            "Cette structure n'a aucune unité",
        ),
        (
            {"receiving_unit": POLICE_UNIT},  # the hotline's own agency: not its unit
            "receiving_unit",
            "unit_not_of_agency",
            "This unit is not one",
            "Cette unité n'est pas",
        ),
    ],
)
async def test_an_agency_that_cannot_receive_the_case_is_refused_naming_the_field(
    world: World, routing: dict[str, str], field: str, code: str, en: str, fr: str
) -> None:
    report_id = (await world.register("Kossiwa Agbo"))["report_id"]
    body = {"decision": "protection_concern", "urgency": "high", "rationale": "At risk", **routing}
    for lang, start in (("en", en), ("fr", fr)):
        headers = {**world.person("screener", HOTLINE), "Accept-Language": lang}
        answer = await world.intake.http.post(
            f"/reports/{report_id}/screening", json=body, headers=headers
        )
        assert answer.status_code == 422, answer.text
        error = answer.json()["error"]
        assert (error["code"], error["field"]) == (code, field)
        assert error["message"].startswith(start), error["message"]
    # Nothing was stored: the report still waits for its screening.
    report = await world.intake.ok(
        "GET", f"/reports/{report_id}", world.person("screener", HOTLINE)
    )
    assert report["status"] == "received"
