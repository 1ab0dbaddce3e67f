"""The pure case domain: every refused transition, and the events of the allowed ones."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

import pytest

from contracts import casework as ev
from services.casework import domain as d
from services.casework.config import load_rules
from shared.events import DomainEvent

RULES = load_rules()
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
HEARD = d.ChildViews(views="I want to stay with my aunt.")
SE = ("sexual_exploitation_prostitution",)
IC = "social_services.interaction_communication"


def apply(state: d.CaseState, command: d.Command, actor: str = "worker-1") -> d.CaseState:
    for event in d.decide(state, command, RULES):
        state = d.evolve(state, event, actor=actor)
    return state


def refused(state: d.CaseState, command: d.Command, code: str, status: int = 409) -> d.DomainError:
    with pytest.raises(d.DomainError) as caught:
        d.decide(state, command, RULES)
    assert (caught.value.code, caught.value.status) == (code, status)
    assert caught.value.message.en and caught.value.message.fr
    return caught.value


def opened(concerns: Sequence[str] = ("neglect",), urgency: str = "normal") -> d.CaseState:
    return apply(
        d.CaseState(),
        d.OpenCase(
            case_id="case-1",
            child_id="child-1",
            sex="female",
            age_band="10-14",
            report_id="r-1",
            agency="ocpm",
            unit=None,
            commune="cotonou",
            concerns=tuple(concerns),
            urgency=urgency,
            immediate_danger=False,
            received_at=NOW,
        ),
    )


def assign(**kw: object) -> d.Assign:
    values: dict[str, object] = {
        "worker_id": "worker-1",
        "supervisor_id": "sup-1",
        "by": "sup-1",
        "by_supervisor": True,
        "worker_sector": "social_services",
        "worker_agency": "ocpm",
        "worker_levels": {IC: "meets_expectations"},
    }
    values.update(kw)
    return d.Assign(**values)  # type: ignore[arg-type]


def assessment(kind: str = "initial", child: d.ChildViews = HEARD) -> d.RecordAssessment:
    return d.RecordAssessment("a-" + kind, kind, ("shelter",), "medium", child)


def at_stage(stage: str) -> d.CaseState:
    """A case walked forward to ``stage`` through the allowed commands."""
    state = apply(opened(), assign())
    steps: list[d.Command] = [
        d.ChangeStage("initial_assessment", NOW),
        assessment("initial"),
        d.ChangeStage("comprehensive_assessment", NOW),
        assessment("comprehensive"),
        d.ChangeStage("best_interests", NOW),
        d.DetermineBestInterests("bid-1", "placement", "Kinship care", ("a", "b"), ("p",), HEARD),
        d.ChangeStage("case_plan", NOW),
        d.AddGoal("g-1", "Safe home"),
        d.AddAction("x-1", "g-1", "Shelter", "ocpm", None, "transit_shelter", date(2026, 4, 1)),
        d.ChangeStage("implementation", NOW),
        d.ChangeStage("follow_up", NOW),
    ]
    for step in steps:
        if state.stage == stage:
            break
        state = apply(state, step)
    assert state.stage == stage
    return state


def names(events: list[DomainEvent]) -> list[str]:
    return [e.name for e in events]


# -- opening -------------------------------------------------------------------------------


def test_opening_sets_registration_due_from_urgency_and_provisional_risk() -> None:
    state = opened(urgency="emergency")
    assert state.stage == "registration" and state.risk_level == "high"
    assert state.stage_due_at == (NOW + timedelta(hours=24)).isoformat().replace("+00:00", "Z")
    assert d.initial_risk("high", False) == "medium" and d.initial_risk("normal", True) == "high"
    assert d.initial_risk("normal", False) == "low"


def test_a_case_cannot_be_opened_twice_and_unknown_cases_refuse_commands() -> None:
    cmd = d.OpenCase("case-1", "c", "f", "0-4", "r", "ocpm", None, "x", ("neglect",), "normal",
                     False, NOW)  # fmt: skip
    refused(opened(), cmd, "case_exists")
    refused(d.CaseState(), d.AddGoal("g", "t"), "case_not_found", 404)


def test_attaching_the_same_report_twice_adds_nothing() -> None:
    state = opened()
    assert d.decide(state, d.AttachReport("r-1", "child-1", (), "normal", "x"), RULES) == []
    state = apply(state, d.AttachReport("r-2", "child-1", ("child_labour",), "high", "x"))
    assert state.urgency == "high" and state.concerns == ("neglect", "child_labour")


# -- assignment ----------------------------------------------------------------------------


def test_assignment_refusals() -> None:
    state = opened(SE)
    refused(state, assign(supervisor_id="worker-1"), "supervisor_is_worker", 422)
    refused(state, assign(worker_sector=None, worker_agency=None), "worker_not_in_directory", 422)
    refused(state, assign(worker_agency="upe-rabat"), "worker_other_agency", 422)
    error = refused(state, assign(worker_levels={}), "competency_missing", 422)
    assert error.extra["missing_competencies"] == [IC] and error.field == "worker_id"
    refused(state, assign(worker_levels={IC: "below_expectations"}), "competency_missing", 422)
    refused(
        state,
        assign(worker_levels={}, override_reason="Only trained worker away", by_supervisor=False),
        "override_needs_supervisor",
        403,
    )
    # A blank reason is no reason.
    refused(state, assign(worker_levels={}, override_reason="   "), "competency_missing", 422)


def test_assignment_by_competency_and_by_override() -> None:
    state = opened(SE)
    [ok] = d.decide(state, assign(worker_levels={IC: "satisfactory"}), RULES)
    assert isinstance(ok, ev.CaseAssigned) and ok.missing_competencies == []
    assert ok.required_competencies == [IC] and ok.override_reason is None
    [forced] = d.decide(state, assign(worker_levels={}, override_reason="Emergency"), RULES)
    assert isinstance(forced, ev.CaseAssigned)
    assert forced.missing_competencies == [IC] and forced.overridden_by == "sup-1"
    # The sector comes from the worker: a police officer needs the police framework's one.
    [police] = d.decide(
        state,
        assign(
            worker_sector="security_forces",
            worker_levels={"security_forces.interaction_communication": "advanced"},
        ),
        RULES,
    )
    assert isinstance(police, ev.CaseAssigned) and police.missing_competencies == []
    # Neglect alone needs no particular competency.
    [plain] = d.decide(opened(), assign(worker_levels={}), RULES)
    assert isinstance(plain, ev.CaseAssigned) and plain.required_competencies == []


# -- stages --------------------------------------------------------------------------------


def test_stage_refusals() -> None:
    fresh = opened()
    refused(fresh, d.ChangeStage("initial_assessment", NOW), "not_assigned")
    state = apply(fresh, assign())
    refused(state, d.ChangeStage("comprehensive_assessment", NOW), "stage_skipped")
    refused(state, d.ChangeStage("registration", NOW), "stage_not_forward")
    refused(state, d.ChangeStage("closure", NOW), "use_closure_request", 422)
    refused(state, d.ChangeStage("nowhere", NOW), "unknown_stage", 422)
    initial = at_stage("initial_assessment")
    refused(initial, d.ChangeStage("comprehensive_assessment", NOW), "initial_assessment_missing")
    comprehensive = apply(
        apply(initial, assessment("initial")), d.ChangeStage("comprehensive_assessment", NOW)
    )
    refused(comprehensive, d.ChangeStage("best_interests", NOW), "comprehensive_assessment_missing")
    refused(at_stage("best_interests"), d.ChangeStage("case_plan", NOW), "best_interests_missing")
    plan = at_stage("case_plan")
    refused(plan, d.ChangeStage("implementation", NOW), "plan_empty")


def test_best_interests_may_be_skipped_and_due_dates_follow_urgency() -> None:
    state = apply(at_stage("comprehensive_assessment"), assessment("comprehensive"))
    [moved] = d.decide(state, d.ChangeStage("case_plan", NOW), RULES)
    assert isinstance(moved, ev.StageChanged)
    hours = RULES.stage_due_hours["case_plan"]["normal"]
    assert moved.due_at == (NOW + timedelta(hours=hours)).isoformat().replace("+00:00", "Z")


# -- assessments and best interests -------------------------------------------------------


def test_assessment_refusals() -> None:
    refused(apply(opened(), assign()), assessment(), "stage_too_early")
    state = at_stage("initial_assessment")
    error = refused(state, assessment(child=d.ChildViews()), "child_views_required", 422)
    assert error.field == "child_views"
    both = d.ChildViews(views="yes", not_heard_reason="age")
    refused(state, assessment(child=both), "views_and_reason", 422)
    refused(state, assessment(child=d.ChildViews(not_heard_reason="other")), "detail_required", 422)
    refused(state, assessment(child=d.ChildViews(not_heard_reason="mood")), "unknown_reason", 422)
    refused(state, assessment("comprehensive"), "initial_assessment_missing")
    bad_risk = d.RecordAssessment("a", "initial", (), "extreme", HEARD)
    refused(state, bad_risk, "unknown_risk", 422)
    refused(state, d.RecordAssessment("a", "annual", (), "low", HEARD), "unknown_kind", 422)


def test_an_assessment_with_a_reason_the_child_was_not_heard_sets_the_risk() -> None:
    state = at_stage("initial_assessment")
    baby = d.ChildViews(not_heard_reason="age")
    state = apply(state, d.RecordAssessment("a", "initial", ("medical",), "high", baby))
    assert state.initial_assessed and state.risk_level == "high"


def test_a_major_decision_needs_the_childs_views_or_a_reason() -> None:
    state = at_stage("best_interests")
    silent = d.DetermineBestInterests("b", "placement", "Foster", ("a",), ("p",), d.ChildViews())
    refused(state, silent, "child_views_required", 422)
    unsafe = d.ChildViews(not_heard_reason="safety")
    assert d.decide(state, silent.__class__("b", "placement", "F", ("a",), ("p",), unsafe), RULES)
    minor = d.DetermineBestInterests("b", "other", "School", ("a",), ("p",), d.ChildViews())
    assert names(d.decide(state, minor, RULES)) == ["BestInterestsDetermined"]
    refused(at_stage("initial_assessment"), silent, "child_views_required", 422)
    early = d.DetermineBestInterests("b", "other", "x", ("a",), ("p",), HEARD)
    refused(at_stage("initial_assessment"), early, "comprehensive_assessment_missing")
    odd = d.DetermineBestInterests("b", "adoption_abroad", "x", ("a",), ("p",), HEARD)
    refused(state, odd, "unknown_decision_kind", 422)


# -- plan ----------------------------------------------------------------------------------


def test_plan_refusals() -> None:
    refused(at_stage("best_interests"), d.AddGoal("g", "t"), "plan_not_started")
    plan = at_stage("case_plan")
    action = d.AddAction("x", "g-404", "t", "ocpm", None, "medical", date(2026, 4, 1))
    refused(plan, action, "unknown_goal", 422)
    with_goal = apply(plan, d.AddGoal("g", "t"))
    odd = d.AddAction("x", "g", "t", "ocpm", None, "astrology", date(2026, 4, 1))
    refused(with_goal, odd, "unknown_service_kind", 422)


# -- closure and reopening -----------------------------------------------------------------


def test_closure_refusals_and_four_eyes() -> None:
    state = at_stage("follow_up")
    refused(state, d.RequestClosure("bored", "worker-1"), "unknown_closure_reason", 422)
    refused(state, d.DecideClosure(True, "sup-1", True), "no_closure_request")
    asked = apply(state, d.RequestClosure("goals_met", "worker-1"), actor="worker-1")
    refused(asked, d.RequestClosure("moved", "worker-1"), "closure_pending")
    refused(asked, d.AddGoal("g2", "t"), "closure_pending")
    refused(asked, d.DecideClosure(True, "worker-2", False), "supervisor_required", 403)
    refused(asked, d.DecideClosure(True, "worker-1", True), "same_person", 403)
    rejected = apply(asked, d.DecideClosure(False, "sup-1", True, "Not yet"))
    assert rejected.status == "open"
    closed = apply(asked, d.DecideClosure(True, "sup-1", True))
    assert closed.status == "closed" and closed.stage == "closure"
    refused(closed, d.AddGoal("g3", "t"), "case_closed")
    refused(closed, d.ChangeStage("follow_up", NOW), "case_closed")
    refused(closed, d.AttachReport("r-9", "child-1", (), "normal", "x"), "case_closed")
    refused(closed, d.DecideClosure(True, "sup-1", True), "case_closed")


def test_reopening() -> None:
    refused(opened(), d.Reopen("New facts", NOW), "case_not_closed")
    asked = apply(at_stage("follow_up"), d.RequestClosure("lost_contact", "w"), actor="w")
    closed = apply(asked, d.DecideClosure(True, "sup-1", True))
    reopened = apply(closed, d.Reopen("Child found again", NOW))
    assert reopened.status == "open" and reopened.stage == "initial_assessment"
    assert not reopened.overdue_flagged and reopened.stage_due_at is not None


# -- overdue -------------------------------------------------------------------------------


def test_overdue_fires_once_per_stage_and_never_on_closed_cases() -> None:
    state = opened()  # registration due NOW + 7 days
    assert d.decide(state, d.FlagOverdue(NOW), RULES) == []
    late = NOW + timedelta(days=8)
    assert names(d.decide(state, d.FlagOverdue(late), RULES)) == ["StageOverdue"]
    flagged = apply(state, d.FlagOverdue(late))
    assert d.decide(flagged, d.FlagOverdue(late), RULES) == []
    asked = apply(at_stage("follow_up"), d.RequestClosure("moved", "w"), actor="w")
    closed = apply(asked, d.DecideClosure(True, "sup-1", True))
    assert d.decide(closed, d.FlagOverdue(late + timedelta(days=999)), RULES) == []
