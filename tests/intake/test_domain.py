"""The pure decision logic, without servers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.intake.domain import (
    AmendReport,
    ChildState,
    DomainError,
    MarkOverdue,
    RecordChild,
    RegisterReport,
    ResolveDuplicate,
    ScreenReport,
    accepted_child,
    child_state,
    deadline_for,
    decide_child,
    decide_report,
    iso,
    report_state,
)
from services.intake.events import (
    ChildRecorded,
    DuplicateSuggested,
    ReportAccepted,
    ReportedChild,
    ReportRegistered,
    ReportScreened,
    ScreeningOverdue,
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
