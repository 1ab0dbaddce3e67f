"""The auditor's view of the journey: the state of each aggregate is a fold of its events,
and reading the history puts on the record exactly the records it showed."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.crossing.conftest import OCPM, OCPM_UNIT, World
from tests.crossing.journey import CORRECTED, Journey

KINDS = {"case_id": "case", "child_id": "child", "report_id": "report", "referral_id": "referral"}
# A suggested duplicate names another child's record.
KINDS["candidate_id"] = "child"


def named(value: Any, found: set[tuple[str, str]]) -> None:
    """Every record id a piece of the answer names, by the field naming it."""
    if isinstance(value, dict):
        for key, item in value.items():
            kind = KINDS.get(key)
            if kind and isinstance(item, str):
                found.add((kind, item))
            named(item, found)
    elif isinstance(value, list):
        for item in value:
            named(item, found)


def shown(history: dict[str, Any]) -> set[tuple[str, str]]:
    """The records an answer shows: the case, its lists, and every record an event names
    (its own aggregate, or an id in its data)."""
    found = {("case", history["case_id"])}
    for kind in ("children", "reports", "referrals"):
        found |= {(kind.removesuffix("ren").removesuffix("s"), i) for i in history[kind]}
    for event in history["events"]:
        aggregate = event["aggregate"]
        if aggregate["type"] in KINDS.values():
            found.add((aggregate["type"], aggregate["id"]))
        named(event["data"], found)
    return found


async def test_the_case_history_records_exactly_the_records_it_shows(
    world: World, journey: Journey
) -> None:
    auditor = world.person("auditor", "igs", user="history-reader")
    history = await world.reporting.ok("GET", f"/audit/cases/{journey.case_id}", auditor)
    expected = shown(history)
    # Both children (the second report's record is a confirmed duplicate of the first), both
    # reports, both referrals, and the case itself.
    assert {journey.child_id, journey.later_child_id} <= {i for k, i in expected if k == "child"}
    assert len(expected) >= 7

    read: set[tuple[str, str]] = set()
    for _ in range(200):
        answer = await world.reporting.ok(
            "GET", "/audit/access?user=history-reader&page_size=200", auditor
        )
        read = {(i["record_type"], i["record_id"]) for i in answer["items"]}
        if len(answer["items"]) >= len(expected):
            assert len(answer["items"]) == len(expected), "one access record per record"
            break
        await asyncio.sleep(0.05)
    assert read == expected
    assert {i["purpose"] for i in answer["items"]} == {"audit: case history"}


async def test_the_state_is_a_fold_of_the_events_not_their_latest_fields(
    world: World, journey: Journey
) -> None:
    auditor = world.person("auditor", "igs", user="state-reader")
    history = await world.reporting.ok("GET", f"/audit/cases/{journey.case_id}", auditor)
    case = history["state"][f"casework/case/{journey.case_id}"]
    fields = case["fields"]
    # After the transfer, the owner is the new agency (TransferAccepted names to_agency).
    assert (fields["agency"], fields["unit"]) == (OCPM, OCPM_UNIT)
    assert fields["worker_id"] is None and fields["pending_transfer"] is None
    [transfer] = fields["transfers"].values()
    assert transfer["status"] == "accepted" and transfer["to_agency"] == OCPM
    # After stage changes, the stage is the last one reached, flagged overdue by the sweep.
    assert fields["stage"] == "case_plan" and fields["stage_overdue"] is True
    # The opening report stays the opening report; the attached one joins the list.
    assert fields["opening_report"] == journey.report_id
    assert fields["reports"] == [journey.report_id, journey.later_report_id]
    assert fields["risk_level"] == "medium" and fields["status"] == "open"
    assert set(fields["assessments"]) and len(fields["assessments"]) == 2
    assert case["last_event"] == "ReportAttachedToCase" and "not_folded" not in case
    # The report keeps its own agency; where its case went is a field of its own.
    report = history["state"][f"intake/report/{journey.report_id}"]["fields"]
    assert report["agency"] == "hotline-116" and report["receiving_agency"] == "police-cotonou"
    assert report["status"] == "protection_concern"
    # The child's record as corrected, and the duplicate its later record confirmed.
    child = history["state"][f"intake/child/{journey.child_id}"]["fields"]
    assert child["details"]["name"] == CORRECTED
    later = history["state"][f"intake/child/{journey.later_child_id}"]["fields"]
    assert later["duplicates"][journey.child_id]["status"] == "confirmed"
    # Referrals: one accepted, one declined with the reason and the unit suggested.
    declined = history["state"][f"referral/referral/{journey.hospital_referral}"]["fields"]
    assert declined["status"] == "declined" and declined["suggested_unit"]
    accepted = history["state"][f"referral/referral/{journey.shelter_referral}"]["fields"]
    assert accepted["status"] == "accepted"
