"""The pure decision logic, without servers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from contracts.casework import ChildIdentified, IdentifiedChild
from contracts.intake import (
    ChildDetailsCorrected,
    ChildRecorded,
    ComplaintAcknowledged,
    ComplaintFiled,
    ComplaintResolved,
    DuplicateSuggested,
    ReportAccepted,
    ReportedChild,
    ReportRegistered,
    ReportScreened,
    RescreeningOverdue,
    ScreeningOverdue,
)
from services.intake.domain import (
    RESCREEN_HOURS,
    AcknowledgeComplaint,
    AmendReport,
    ChildState,
    ComplaintState,
    CorrectChild,
    DomainError,
    FileComplaint,
    MarkOverdue,
    RecordChild,
    RegisterReport,
    ResolveComplaint,
    ResolveDuplicate,
    ScreenReport,
    accepted_child,
    child_from_identified,
    child_state,
    children_of,
    complaint_state,
    corrected_changes,
    deadline_for,
    decide_child,
    decide_complaint,
    decide_report,
    iso,
    report_state,
)

RECEIVED = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def registered(**over: object) -> ReportRegistered:
    fields: dict = {
        "report_id": "r1",
        "agency": "ocpm",
        "channel": "hotline_116",
        "received_at": iso(RECEIVED),
        "commune": "bj-littoral-cotonou",
        "concerns": ["child_labour"],
        "children": [ReportedChild(child_id="c1", sex="female", date_of_birth="2015-06-01")],
        "urgency": "normal",
    }
    fields.update(over)
    return ReportRegistered(**fields)


def screen(decision: str = "protection_concern", **over: object) -> ScreenReport:
    fields: dict = {
        "decision": decision,
        "urgency": "high",
        "rationale": "r",
        "redirect_to": None,
        "agency": "police-cotonou",
        "unit": "bpm",
        "now": RECEIVED + timedelta(hours=5),
    }
    fields.update(over)
    return ScreenReport(**fields)


def test_register_then_register_again_is_refused() -> None:
    event = registered()
    events = decide_report(report_state([]), RegisterReport(event, RECEIVED))
    assert events == [event]
    with pytest.raises(DomainError) as refused:
        decide_report(report_state(events), RegisterReport(event, RECEIVED))
    assert refused.value.code == "already_registered"


def test_protection_concern_accepts_with_the_screeners_agency_and_child_stats() -> None:
    events = decide_report(report_state([registered()]), screen())
    screened, accepted = events
    assert isinstance(screened, ReportScreened) and isinstance(accepted, ReportAccepted)
    assert screened.deadline == iso(RECEIVED + timedelta(hours=72))
    assert screened.within_deadline
    assert accepted.agency == "police-cotonou" and accepted.unit == "bpm"
    assert accepted.children[0].age_years == 10 and accepted.children[0].age_band == "10-14"
    assert accepted.received_at == iso(RECEIVED)


def test_late_screening_is_recorded_as_late() -> None:
    late = screen(urgency="emergency", now=RECEIVED + timedelta(hours=30))
    screened = decide_report(report_state([registered()]), late)[0]
    assert isinstance(screened, ReportScreened) and not screened.within_deadline


def test_screening_rules() -> None:
    state = report_state([registered()])
    assert len(decide_report(state, screen("not_a_concern"))) == 1
    with pytest.raises(DomainError) as no_target:
        decide_report(state, screen("redirect"))
    assert no_target.value.status == 422 and no_target.value.field == "redirect_to"
    done = report_state([registered(), *decide_report(state, screen("not_a_concern"))])
    with pytest.raises(DomainError) as again:
        decide_report(done, screen())
    assert again.value.code == "already_screened" and again.value.status == 409
    with pytest.raises(DomainError) as missing:
        decide_report(report_state([]), screen())
    assert missing.value.status == 404


def test_age_ranges_and_bands_for_casework() -> None:
    received = RECEIVED.date()
    in_band = accepted_child(ReportedChild(child_id="a", age_min=10, age_max=13), received, "a")
    across = accepted_child(ReportedChild(child_id="b", age_min=3, age_max=7), received, "b")
    unknown = accepted_child(ReportedChild(child_id="c", unidentified=True), received, "c")
    assert (in_band.age_years, in_band.age_band) == (None, "10-14")
    assert across.age_band == "unknown" and unknown.age_band == "unknown"


def test_amendment_keeps_only_changed_fields() -> None:
    state = report_state([registered()])
    amended = decide_report(
        state, AmendReport({"commune": "bj-littoral-cotonou", "narrative": "n"}, "reason")
    )[0]
    assert amended.fields == ["narrative"]  # type: ignore[attr-defined]
    with pytest.raises(DomainError):
        decide_report(state, AmendReport({"commune": "bj-littoral-cotonou"}, "reason"))
    after = report_state([registered(), amended])
    assert after.data["narrative"] == "n"


def test_overdue_fires_once_and_never_after_screening() -> None:
    state = report_state([registered(urgency="emergency")])
    assert decide_report(state, MarkOverdue(RECEIVED + timedelta(hours=23))) == []
    fired = decide_report(state, MarkOverdue(RECEIVED + timedelta(hours=25)))
    assert isinstance(fired[0], ScreeningOverdue)
    assert fired[0].deadline == iso(deadline_for(RECEIVED, "emergency"))
    again = report_state([registered(urgency="emergency"), *fired])
    assert decide_report(again, MarkOverdue(RECEIVED + timedelta(days=3))) == []
    screened = report_state([registered(), *decide_report(state, screen("not_a_concern"))])
    assert decide_report(screened, MarkOverdue(RECEIVED + timedelta(days=30))) == []


def test_child_suggestions_are_resolved_once() -> None:
    recorded = ChildRecorded(
        child_id="c2",
        report_id="r2",
        agency="ocpm",
        commune="unknown",
        received_at=iso(RECEIVED),
        details=ReportedChild(child_id="c2", name="Awa"),
    )
    suggestion = DuplicateSuggested(child_id="c2", candidate_id="c1", score=0.9, reasons=["name"])
    events = decide_child(ChildState(), RecordChild(recorded, [suggestion]))
    assert events == [recorded, suggestion]
    state = child_state(events)
    assert decide_child(state, RecordChild(recorded, [])) == []  # a retry adds nothing
    confirmed = decide_child(state, ResolveDuplicate("c1", True, None))
    assert confirmed[0].name == "DuplicateConfirmed"
    with pytest.raises(DomainError) as twice:
        decide_child(child_state([*events, *confirmed]), ResolveDuplicate("c1", False, None))
    assert twice.value.code == "already_resolved"
    with pytest.raises(DomainError) as unknown:
        decide_child(state, ResolveDuplicate("c9", True, None))
    assert unknown.value.status == 404


def test_sensitive_fields_are_declared() -> None:
    assert {"children", "narrative", "alleged_perpetrator", "reporter"} <= (
        ReportRegistered.sensitive_fields
    )
    assert "details" in ChildRecorded.sensitive_fields


# -- re-screening ------------------------------------------------------------------------------


def test_more_information_sets_a_rescreen_deadline_flagged_once_per_deadline() -> None:
    first = decide_report(report_state([registered()]), screen("more_information"))
    assert len(first) == 1  # no case for a report still waiting for information
    screened = first[0]
    assert isinstance(screened, ReportScreened)
    asked_at = RECEIVED + timedelta(hours=5)
    assert screened.rescreen_by == iso(asked_at + timedelta(hours=RESCREEN_HOURS["high"]))
    state = report_state([registered(), *first])
    assert decide_report(state, MarkOverdue(asked_at + timedelta(hours=47))) == []
    fired = decide_report(state, MarkOverdue(asked_at + timedelta(hours=49)))
    assert isinstance(fired[0], RescreeningOverdue) and fired[0].deadline == screened.rescreen_by
    assert not any(isinstance(e, ScreeningOverdue) for e in fired)
    flagged = report_state([registered(), *first, *fired])
    assert decide_report(flagged, MarkOverdue(asked_at + timedelta(days=30))) == []
    # Asked again for more information: a new deadline, which can be flagged in its turn.
    again_at = asked_at + timedelta(hours=60)
    second = decide_report(flagged, screen("more_information", urgency="emergency", now=again_at))
    renewed = report_state([registered(), *first, *fired, *second])
    assert decide_report(renewed, MarkOverdue(again_at + timedelta(hours=11))) == []
    late = decide_report(renewed, MarkOverdue(again_at + timedelta(hours=13)))
    assert late[0].deadline == iso(again_at + timedelta(hours=12))  # type: ignore[attr-defined]
    final = decide_report(renewed, screen("not_a_concern", now=again_at + timedelta(hours=1)))
    closed = report_state([registered(), *first, *fired, *second, *final])
    assert closed.rescreen_by is None
    assert decide_report(closed, MarkOverdue(again_at + timedelta(days=30))) == []


def test_rescreen_deadlines_are_shorter_than_the_first_ones() -> None:
    assert RESCREEN_HOURS == {"emergency": 12, "high": 48, "normal": 120}
    for urgency, hours in RESCREEN_HOURS.items():
        assert hours < (deadline_for(RECEIVED, urgency) - RECEIVED).total_seconds() / 3600


def test_screening_stored_without_rescreen_by_gets_one_derived() -> None:
    old = ReportScreened(
        report_id="r1",
        decision="more_information",
        urgency="normal",
        rationale="r",
        deadline=iso(RECEIVED + timedelta(days=7)),
        screened_at=iso(RECEIVED),
        within_deadline=True,
    )
    state = report_state([registered(), old])
    assert state.rescreen_by == RECEIVED + timedelta(hours=120)


def test_acceptance_carries_the_corrected_child() -> None:
    corrected = ReportedChild(child_id="c1", sex="male", age_years=16)
    events = decide_report(report_state([registered()]), screen(current_children={"c1": corrected}))
    accepted = events[1]
    assert isinstance(accepted, ReportAccepted)
    assert (accepted.children[0].sex, accepted.children[0].age_band) == ("male", "15-17")


# -- child records owed ------------------------------------------------------------------------


def test_a_report_owes_one_record_per_child_with_its_place_and_time() -> None:
    report = registered(
        children=[
            ReportedChild(child_id="c1", name="Awa"),
            ReportedChild(child_id="c2", unidentified=True),
        ]
    )
    records = children_of(report)
    assert [r.child_id for r in records] == ["c1", "c2"]
    assert {(r.report_id, r.case_id, r.agency, r.received_at) for r in records} == {
        ("r1", None, "ocpm", iso(RECEIVED))
    }


def test_a_child_found_on_a_direct_case_becomes_a_child_record_under_the_same_id() -> None:
    found = ChildIdentified(
        child_id="k1",
        agency="cps-abomey",
        commune="bj-zou-abomey",
        found_at=iso(RECEIVED),
        details=IdentifiedChild(
            name="Sèna Houénou", sex="female", age_min=9, age_max=11, vulnerabilities=["migration"]
        ),
    )
    record = child_from_identified("case-9", found)
    assert (record.child_id, record.case_id, record.report_id) == ("k1", "case-9", None)
    assert record.received_at == iso(RECEIVED) and record.agency == "cps-abomey"
    assert record.details.child_id == "k1" and record.details.name == "Sèna Houénou"
    assert (record.details.age_min, record.details.age_max) == (9, 11)
    assert record.details.unidentified is False
    nameless = child_from_identified(
        "case-9", found.model_copy(update={"details": IdentifiedChild(sex="male")})
    )
    assert nameless.details.unidentified is True


# -- corrections -------------------------------------------------------------------------------


def _child(**details: object) -> ChildState:
    fields: dict = {"child_id": "c2", **details}
    return child_state(
        [
            ChildRecorded(
                child_id="c2",
                report_id="r2",
                agency="ocpm",
                commune="unknown",
                received_at=iso(RECEIVED),
                details=ReportedChild(**fields),
            )
        ]
    )


def test_a_correction_is_an_event_with_only_what_changed() -> None:
    state = _child(name="Kofi Agbodjan", sex="male", age_years=9)
    events = decide_child(
        state, CorrectChild({"name": "Kossi Agbodjan", "sex": "male"}, "Épelé par le père")
    )
    corrected = events[0]
    assert isinstance(corrected, ChildDetailsCorrected)
    assert corrected.fields == ["name"] and corrected.changes == {"name": "Kossi Agbodjan"}
    after = child_state([*_events(state), *events])
    assert after.details is not None and after.details.name == "Kossi Agbodjan"
    with pytest.raises(DomainError) as same:
        decide_child(after, CorrectChild({"name": "Kossi Agbodjan"}, "encore"))
    assert (same.value.code, same.value.status) == ("nothing_changed", 422)


def _events(state: ChildState) -> list:
    assert state.details is not None
    return [
        ChildRecorded(
            child_id=state.child_id,
            report_id=state.report_id,
            agency=state.agency,
            commune=state.commune,
            received_at=state.received_at,
            details=state.details,
        )
    ]


def test_a_corrected_age_replaces_the_whole_age() -> None:
    state = _child(name="Awa", date_of_birth="2015-06-01")
    changes = corrected_changes(state.details, {"age_min": 8, "age_max": 10})  # type: ignore[arg-type]
    assert changes == {"date_of_birth": None, "age_min": 8, "age_max": 10}
    unknown = corrected_changes(state.details, {"age_years": None})  # type: ignore[arg-type]
    assert unknown == {"date_of_birth": None}
    with pytest.raises(DomainError) as reversed_range:
        decide_child(state, CorrectChild({"age_min": 12, "age_max": 10}, "motif"))
    assert reversed_range.value.field == "changes.age_range"
    with pytest.raises(DomainError) as half_range:
        decide_child(state, CorrectChild({"age_min": 12}, "motif"))
    assert half_range.value.status == 422
    with pytest.raises(DomainError) as adult:
        decide_child(state, CorrectChild({"age_years": 19}, "motif"))
    assert adult.value.code == "invalid_correction"


def test_naming_an_unidentified_child_identifies_it_and_suggests_only_new_candidates() -> None:
    state = _child(unidentified=True)
    seen = DuplicateSuggested(child_id="c2", candidate_id="c1", score=0.9, reasons=["name"])
    state = child_state([*_events(state), seen])
    new = DuplicateSuggested(child_id="c2", candidate_id="c3", score=0.8, reasons=["name"])
    events = decide_child(state, CorrectChild({"name": "Awa Sow"}, "Retrouvée", [seen, new]))
    assert events[0].changes == {"name": "Awa Sow", "unidentified": False}  # type: ignore[attr-defined]
    assert events[1:] == [new]
    with pytest.raises(DomainError) as missing:
        decide_child(ChildState(), CorrectChild({"name": "Awa"}, "motif"))
    assert missing.value.status == 404


# -- complaints --------------------------------------------------------------------------------


def test_complaints_are_acknowledged_then_resolved_and_never_by_the_accused() -> None:
    filed = ComplaintFiled(
        complaint_id="p1",
        about_user="agent-7",
        about_agency="police-parakou",
        complainant="family",
        account="a",
        filed_by_agency="ocpm",
    )
    assert decide_complaint(ComplaintState(), FileComplaint(filed)) == [filed]
    state = complaint_state([filed])
    assert decide_complaint(state, FileComplaint(filed)) == []  # a retried filing
    with pytest.raises(DomainError) as early:
        decide_complaint(state, ResolveComplaint("ombud", True, "Sanction"))
    assert (early.value.code, early.value.status) == ("not_acknowledged", 409)
    for accused in (AcknowledgeComplaint("agent-7", None), ResolveComplaint("agent-7", False, "x")):
        with pytest.raises(DomainError) as hidden:
            decide_complaint(state, accused)
        assert hidden.value.status == 404
    acked = decide_complaint(state, AcknowledgeComplaint("ombud", "Reçue"))
    assert isinstance(acked[0], ComplaintAcknowledged)
    state = complaint_state([filed, *acked])
    with pytest.raises(DomainError) as twice:
        decide_complaint(state, AcknowledgeComplaint("ombud", None))
    assert twice.value.code == "already_acknowledged"
    resolved = decide_complaint(state, ResolveComplaint("ombud", True, "Agent sanctionné"))
    assert isinstance(resolved[0], ComplaintResolved) and resolved[0].upheld
    state = complaint_state([filed, *acked, *resolved])
    assert state.status == "resolved"
    for late in (AcknowledgeComplaint("ombud", None), ResolveComplaint("ombud", False, "x")):
        with pytest.raises(DomainError) as closed:
            decide_complaint(state, late)
        assert closed.value.code == "complaint_resolved"
    with pytest.raises(DomainError) as unknown:
        decide_complaint(ComplaintState(), AcknowledgeComplaint("ombud", None))
    assert unknown.value.status == 404


def test_new_events_declare_their_sensitive_fields() -> None:
    assert {"changes", "reason"} <= ChildDetailsCorrected.sensitive_fields
    assert "outcome" in ComplaintResolved.sensitive_fields
    assert "note" in ComplaintAcknowledged.sensitive_fields
