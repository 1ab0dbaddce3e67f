"""The pure part of a case's audit history: links, relatedness, order, as-of and the fold."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

import contracts
from shared.audit_history import (
    IndexedEvent,
    Link,
    assemble_history,
    extract_links,
    index_envelope,
    parse_instant,
)
from shared.i18n import LocalisedValueError

contracts.load_all()


def stored(
    stream: str, seq: int, subject: str, type_: str, time: str, data: dict[str, Any]
) -> IndexedEvent:
    envelope = {
        "type": type_,
        "time": time,
        "data": data,
        "aggregateversion": 1,
        "actor": "u-1",
        "actoragency": "ocpm",
        "actorrole": "case_worker",
    }
    return index_envelope(stream, seq, subject, envelope)


def t(minute: int) -> str:
    return f"2026-03-01T10:{minute:02d}:00.000000Z"


def test_links_come_from_the_aggregate_top_level_ids_lists_of_ids_and_objects_in_lists() -> None:
    links = extract_links(
        "report",
        "r-1",
        {
            "children": [{"child_id": "a", "sex": "f"}, {"child_id": "b"}],
            "case_ids": ["c-1", 7],
            "referral_id": "f-1",
            "note": "child_id is not a field here",
        },
    )
    assert links == {
        Link("report", "r-1"),
        Link("child", "a"),
        Link("child", "b"),
        Link("case", "c-1"),
        Link("referral", "f-1"),
    }
    # An event of the case aggregate is about the case even if its data never says so.
    assert extract_links("case", "c-1", {"worker_id": "w"}) == {Link("case", "c-1")}
    assert extract_links("agency", "ocpm", {"agency_id": "ocpm"}) == frozenset()


def test_an_unknown_type_keeps_its_stored_data_and_is_described_as_unknown() -> None:
    event = stored(
        "CASEWORK",
        3,
        "casework.hq.case.c-1.Teleported",
        "org.relais.casework.Teleported.v9",
        t(1),
        {"case_id": "c-1", "where": "moon"},
    )
    assert event.data == {"case_id": "c-1", "where": "moon"}
    assert event.name == "Teleported" and event.context == "casework"
    history = assemble_history("c-1", [event])
    assert history is not None
    described = history.events[0]["description"]
    assert "Teleported" in described["en"] and "ne connaît pas" in described["fr"]


def _case_story() -> list[IndexedEvent]:
    return [
        stored(
            "CASEWORK",
            1,
            "casework.hq.case.c-1.Opened",
            "org.relais.casework.Opened.v1",
            t(2),
            {"case_id": "c-1", "child_id": "a", "report_id": "r-1", "status": "open"},
        ),
        stored(
            "INTAKE",
            1,
            "intake.hq.report.r-1.Accepted",
            "org.relais.intake.Accepted.v1",
            t(1),
            {"report_id": "r-1", "children": [{"child_id": "a"}, {"child_id": "b"}]},
        ),
        stored(
            "REFERRAL",
            1,
            "referral.hq.referral.f-1.Made",
            "org.relais.referral.Made.v1",
            t(3),
            {"referral_id": "f-1", "case_id": "c-1", "child_id": "a"},
        ),
        stored(
            "REFERRAL",
            2,
            "referral.hq.referral.f-1.Accepted",
            "org.relais.referral.Accepted.v1",
            t(4),
            {"referral_id": "f-1", "to_unit": "u-1"},
        ),
        stored(
            "CASEWORK",
            2,
            "casework.hq.case.c-1.Status",
            "org.relais.casework.Status.v1",
            t(5),
            {"status": "closed"},
        ),
        # The sibling's own case: named through the report, never followed.
        stored(
            "CASEWORK",
            3,
            "casework.hq.case.c-2.Status",
            "org.relais.casework.Status.v1",
            t(6),
            {"status": "open", "child_id": "b"},
        ),
        # Same instant as the referral: stream order (intake, referral, casework) breaks it.
        stored(
            "INTAKE",
            2,
            "intake.hq.child.a.Seen",
            "org.relais.intake.Seen.v1",
            t(3),
            {"child_id": "a"},
        ),
    ]


def test_history_follows_the_case_its_child_and_their_papers_in_time_order() -> None:
    history = assemble_history("c-1", reversed(_case_story()))
    assert history is not None
    order = [(e["stream"], e["seq"]) for e in history.events]
    assert order == [
        ("INTAKE", 1),
        ("CASEWORK", 1),
        ("INTAKE", 2),
        ("REFERRAL", 1),
        ("REFERRAL", 2),
        ("CASEWORK", 2),
    ]
    assert history.ids("child") == ["a"]
    assert history.ids("report") == ["r-1"] and history.ids("referral") == ["f-1"]
    # These types are unknown to this software: shown, but never folded into a state it
    # would have to guess.
    case = history.state["casework/case/c-1"]
    assert case["fields"] == {} and case["not_folded"] == ["Opened", "Status"]
    assert case["last_event"] == "Status" and history.events[-1]["changed"] == []


def test_as_of_keeps_earlier_events_and_folds_the_state_of_then() -> None:
    history = assemble_history("c-1", _case_story(), parse_instant(t(4)))
    assert history is not None
    assert [e["time"] for e in history.events][-1] == t(4)
    assert len(history.events) == 5
    case = history.state["casework/case/c-1"]
    assert case["not_folded"] == ["Opened"] and case["last_event"] == "Opened"
    assert history.state["referral/referral/f-1"]["last_event"] == "Accepted"
    # Before the case existed: known case, empty history.
    early = assemble_history("c-1", _case_story(), parse_instant(t(0)))
    assert early is not None and early.events == [] and early.state == {}


def test_a_case_no_event_names_is_unknown() -> None:
    assert assemble_history("c-404", _case_story()) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-01T10:00:00Z", datetime(2026, 3, 1, 10, tzinfo=UTC)),
        ("2026-03-01T12:00:00+02:00", datetime(2026, 3, 1, 10, tzinfo=UTC)),
        ("2026-03-01t10:00:00.123456789z", datetime(2026, 3, 1, 10, 0, 0, 123456, tzinfo=UTC)),
    ],
)
def test_instants_are_rfc3339_in_utc(text: str, expected: datetime) -> None:
    assert parse_instant(text) == expected


@pytest.mark.parametrize(
    "text", ["yesterday", "2026-03-01", "2026-03-01T10:00:00", "2026-13-01T10:00:00Z", ""]
)
def test_instants_without_offset_or_malformed_are_refused_in_both_languages(text: str) -> None:
    with pytest.raises(LocalisedValueError) as caught:
        parse_instant(text)
    assert "RFC 3339" in caught.value.message.en and "RFC 3339" in caught.value.message.fr


def test_every_event_of_a_case_story_declares_what_it_does_to_the_state() -> None:
    from shared.events import registry

    undeclared = [
        m.type_name()
        for m in registry.all()
        if m.context in ("intake", "referral", "casework") and m.audit_state is None
    ]
    assert undeclared == []


def _case_event(seq: int, name: str, data: dict[str, Any]) -> IndexedEvent:
    return stored(
        "CASEWORK",
        seq,
        f"casework.hq.case.c-9.{name}",
        f"org.relais.casework.{name}.v1",
        t(seq),
        data,
    )


def test_the_state_is_a_fold_transfer_stage_and_attached_reports() -> None:
    opened = {
        "case_id": "c-9",
        "child_id": "a",
        "sex": "female",
        "age_band": "10-14",
        "report_id": "r-1",
        "agency": "police",
        "unit": "bpm",
        "commune": "bj-cotonou",
        "concerns": ["neglect"],
        "urgency": "normal",
        "initial_risk": "low",
        "received_at": t(0),
        "registration_due_at": t(50),
    }
    history = assemble_history(
        "c-9",
        [
            _case_event(1, "CaseOpened", opened),
            _case_event(
                2,
                "ReportAttachedToCase",
                {
                    "report_id": "r-2",
                    "child_id": "a",
                    "concerns": ["child_labour"],
                    "urgency": "high",
                    "received_at": t(1),
                },
            ),
            _case_event(
                3, "StageChanged", {"from_stage": "registration", "to_stage": "initial_assessment"}
            ),
            _case_event(
                4,
                "TransferRequested",
                {"transfer_id": "t-1", "from_agency": "police", "to_agency": "ocpm", "reason": "x"},
            ),
            _case_event(
                5,
                "TransferAccepted",
                {
                    "transfer_id": "t-1",
                    "from_agency": "police",
                    "to_agency": "ocpm",
                    "to_unit": "ocpm-1",
                    "accepted_by": "sup",
                },
            ),
            _case_event(
                6,
                "StageChanged",
                {"from_stage": "initial_assessment", "to_stage": "comprehensive_assessment"},
            ),
        ],
    )
    assert history is not None
    case = history.state["casework/case/c-9"]["fields"]
    assert (case["agency"], case["unit"]) == ("ocpm", "ocpm-1")
    assert case["stage"] == "comprehensive_assessment"
    assert case["opening_report"] == "r-1" and case["reports"] == ["r-1", "r-2"]
    assert case["concerns"] == ["neglect", "child_labour"] and case["urgency"] == "high"
    assert case["transfers"]["t-1"]["status"] == "accepted"
    assert "report_id" not in case and "to_agency" not in case  # no raw event field leaks in
    assert history.events[4]["changed"] == [
        "agency",
        "pending_transfer",
        "supervisor_id",
        "transfers",
        "unit",
        "worker_id",
    ]
