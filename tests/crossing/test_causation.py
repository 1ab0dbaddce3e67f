"""Causation is never lost: in a whole journey, every event another event caused names it
(``causationid``), every event a person started names none, and each story's events share
the correlation id of its first command."""

from __future__ import annotations

import json
from typing import Any

import nats

from shared.reading import iter_stored
from tests.crossing.conftest import SHELTER_UNIT, World
from tests.crossing.journey import Journey

# Event types that are always reactions or flags, and the type of the event each names.
CAUSED_BY = {
    "ChildRecorded": "ReportRegistered",  # the report owes a record to each child
    "DuplicateSuggested": "ReportRegistered",  # in the same append as the record
    "CaseOpened": "ReportAccepted",  # casework's opener
    "ReportAttachedToCase": "ReportAccepted",
    "ReferralMade": "ReferralRequested",  # referral answering casework's request
    "ReferralDetailsShared": "ReferralRequested",
    "ChildDetailsCorrected": "ChildDetailsReported",  # intake applying the worker's correction
    "StageOverdue": "StageChanged",  # the sweep names the event that began the stage
}


async def journey_log(world: World, journey: Journey) -> list[dict[str, Any]]:
    """Every stored event of the journey's records, in no particular order."""
    subjects = [
        ("INTAKE", f"intake.hq.report.{journey.report_id}.*"),
        ("INTAKE", f"intake.hq.report.{journey.later_report_id}.*"),
        ("INTAKE", f"intake.hq.child.{journey.child_id}.*"),
        ("INTAKE", f"intake.hq.child.{journey.later_child_id}.*"),
        ("CASEWORK", f"casework.hq.case.{journey.case_id}.*"),
        ("REFERRAL", f"referral.hq.referral.{journey.shelter_referral}.*"),
        ("REFERRAL", f"referral.hq.referral.{journey.hospital_referral}.*"),
        ("REFERRAL", f"referral.hq.capacity.{SHELTER_UNIT}.*"),
    ]
    events = []
    async with await nats.connect(world.nats_url) as nc:
        for stream, subject in subjects:
            async for _, _, msg in iter_stored(nc, stream, subject, 1):
                envelope = json.loads(msg.data)
                data = envelope["data"]
                if (
                    subject.startswith("referral.hq.capacity")
                    and data.get("referral_id") != journey.shelter_referral
                ):
                    continue  # the unit's places serve other stories too
                events.append(envelope)
    return events


def name_of(envelope: dict[str, Any]) -> str:
    return str(envelope["type"]).split(".")[-2]


async def test_every_event_caused_by_another_names_it_and_each_story_keeps_its_chain(
    world: World, journey: Journey
) -> None:
    events = await journey_log(world, journey)
    by_id = {e["id"]: e for e in events}
    names = {name_of(e) for e in events}
    # The journey went through every kind of reaction and flag it means to check.
    assert set(CAUSED_BY) <= names, set(CAUSED_BY) - names
    for event in events:
        name = name_of(event)
        if name in CAUSED_BY:
            cause = by_id.get(event.get("causationid", ""))
            assert cause is not None, f"{name} names no cause of the journey"
            assert name_of(cause) == CAUSED_BY[name], (name, name_of(cause))
        else:
            # Started by a person (a process never acts on its own in this journey).
            assert event["actorrole"] != "system", name
            assert "causationid" not in event, name

    # Two stories: the first report's, and the second report's, which joined the case.
    first = next(
        e["id"] for e in events if e["subject"] == journey.report_id and e["aggregateversion"] == 1
    )
    second = next(
        e["id"]
        for e in events
        if e["subject"] == journey.later_report_id and e["aggregateversion"] == 1
    )
    later = {journey.later_report_id, journey.later_child_id}
    for event in events:
        in_second = event["subject"] in later or name_of(event) == "ReportAttachedToCase"
        expected = second if in_second else first
        assert event["correlationid"] == expected, (name_of(event), event["subject"])
