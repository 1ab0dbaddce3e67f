"""Deciding the records of the work: assessments, best interests, the plan and closure."""

from __future__ import annotations

from contracts import casework as ev
from services.casework.domain.commands import (
    AddAction,
    AddGoal,
    ChildViews,
    DecideClosure,
    DetermineBestInterests,
    RecordAssessment,
    ReferralRequest,
    RequestClosure,
)
from services.casework.domain.rules import Rules
from services.casework.domain.state import (
    DECISION_KINDS,
    MAJOR_DECISIONS,
    NOT_HEARD_REASONS,
    RISK_LEVELS,
    STAGES,
    CaseState,
)
from shared.domain import refuse
from shared.events import DomainEvent


def _check_views(child: ChildViews, *, required: bool) -> None:
    heard = bool((child.views or "").strip())
    reason = child.not_heard_reason
    if heard and reason:
        refuse(
            "views_and_reason",
            "Give either the child's views or why they could not be heard, not both.",
            "Indiquez soit l'opinion de l'enfant, soit pourquoi il n'a pas pu être entendu, "
            "pas les deux.",
            status=422,
            field="views_not_heard_reason",
        )
    if reason is not None and reason not in NOT_HEARD_REASONS:
        refuse(
            "unknown_reason",
            "Unknown reason; expected age, capacity, safety or other.",
            "Motif inconnu ; valeurs possibles : age, capacity, safety, other.",
            status=422,
            field="views_not_heard_reason",
        )
    if reason == "other" and not (child.not_heard_detail or "").strip():
        refuse(
            "detail_required",
            "Explain why the child could not be heard.",
            "Expliquez pourquoi l'enfant n'a pas pu être entendu.",
            status=422,
            field="views_not_heard_detail",
        )
    if required and not heard and reason is None:
        refuse(
            "child_views_required",
            "Record the child's views, or why they could not be heard (age, capacity, safety).",
            "Consignez l'opinion de l'enfant, ou pourquoi il n'a pas pu être entendu (âge, "
            "capacité, sécurité).",
            status=422,
            field="child_views",
        )


def assess(state: CaseState, c: RecordAssessment) -> list[DomainEvent]:
    if c.kind not in ("initial", "comprehensive"):
        refuse("unknown_kind", "Unknown kind.", "Type inconnu.", status=422, field="kind")
    if c.risk_level not in RISK_LEVELS:
        refuse(
            "unknown_risk",
            "Unknown risk level.",
            "Niveau de risque inconnu.",
            status=422,
            field="risk_level",
        )
    _check_views(c.child, required=True)
    if state.stage in ("registration",):
        refuse(
            "stage_too_early",
            "Move the case to the initial assessment stage first.",
            "Faites d'abord passer le dossier à l'étape d'évaluation initiale.",
        )
    if c.kind == "comprehensive" and not state.initial_assessed:
        refuse(
            "initial_assessment_missing",
            "Record the initial assessment first.",
            "Enregistrez d'abord l'évaluation initiale.",
        )
    return [
        ev.AssessmentRecorded(
            assessment_id=c.assessment_id,
            kind=c.kind,
            needs=list(c.needs),
            risk_level=c.risk_level,
            summary=c.summary,
            child_views=c.child.views,
            views_not_heard_reason=c.child.not_heard_reason,
            views_not_heard_detail=c.child.not_heard_detail,
        )
    ]


def best_interests(state: CaseState, c: DetermineBestInterests) -> list[DomainEvent]:
    if c.decision_kind not in DECISION_KINDS:
        refuse(
            "unknown_decision_kind",
            "Unknown decision kind.",
            "Type de décision inconnu.",
            status=422,
            field="decision_kind",
        )
    _check_views(c.child, required=c.decision_kind in MAJOR_DECISIONS)
    if not state.comprehensive_assessed:
        refuse(
            "comprehensive_assessment_missing",
            "Record the comprehensive assessment first.",
            "Enregistrez d'abord l'évaluation approfondie.",
        )
    return [
        ev.BestInterestsDetermined(
            determination_id=c.determination_id,
            decision_kind=c.decision_kind,
            decision=c.decision,
            options_considered=list(c.options_considered),
            participants=list(c.participants),
            child_views=c.child.views,
            views_not_heard_reason=c.child.not_heard_reason,
            views_not_heard_detail=c.child.not_heard_detail,
        )
    ]


def plan(state: CaseState, c: AddGoal | AddAction, rules: Rules) -> list[DomainEvent]:
    if STAGES.index(state.stage) < STAGES.index("case_plan"):
        refuse(
            "plan_not_started",
            "Move the case to the case plan stage first.",
            "Faites d'abord passer le dossier à l'étape du plan d'intervention.",
        )
    if isinstance(c, AddGoal):
        return [ev.PlanGoalAdded(goal_id=c.goal_id, text=c.text)]
    if c.goal_id not in state.goals:
        refuse(
            "unknown_goal",
            "No such goal in this plan.",
            "Objectif absent de ce plan.",
            status=422,
            field="goal_id",
        )
    if c.service_kind not in rules.service_kinds:
        refuse(
            "unknown_service_kind",
            "Unknown service kind.",
            "Type de service inconnu.",
            status=422,
            field="service_kind",
        )
    if c.request is not None:
        return _action_with_request(state, c, c.request)
    return [
        ev.PlanActionAdded(
            action_id=c.action_id,
            goal_id=c.goal_id,
            text=c.text,
            responsible_agency=c.responsible_agency,
            responsible_unit=c.responsible_unit,
            service_kind=c.service_kind,
            due_on=c.due_on.isoformat(),
            referral_id=c.referral_id,
        )
    ]


def _action_with_request(
    state: CaseState, c: AddAction, request: ReferralRequest
) -> list[DomainEvent]:
    if c.referral_id is not None:
        refuse(
            "referral_and_request",
            "Name a referral already made, or ask for a new one, not both.",
            "Indiquez une orientation déjà émise ou demandez-en une nouvelle, pas les deux.",
            status=422,
            field="referral_request",
        )
    if c.responsible_agency == state.agency:
        refuse(
            "request_for_own_agency",
            "A referral request is for a unit of another agency.",
            "Une demande d'orientation vise une unité d'une autre structure.",
            status=422,
            field="responsible_agency",
        )
    if c.responsible_unit is not None and c.responsible_unit != request.to_unit:
        refuse(
            "unit_mismatch",
            "The responsible unit and the unit asked for differ.",
            "L'unité responsable et l'unité sollicitée diffèrent.",
            status=422,
            field="responsible_unit",
        )
    # One batch: the action never exists without its request, nor the request without it.
    return [
        ev.PlanActionAdded(
            action_id=c.action_id,
            goal_id=c.goal_id,
            text=c.text,
            responsible_agency=c.responsible_agency,
            responsible_unit=request.to_unit,
            service_kind=c.service_kind,
            due_on=c.due_on.isoformat(),
            referral_id=request.referral_id,
        ),
        ev.ReferralRequested(
            referral_id=request.referral_id,
            action_id=c.action_id,
            child_id=state.child_id,
            from_agency=state.agency,
            from_unit=state.unit,
            to_unit=request.to_unit,
            service_kind=c.service_kind,
            urgency=request.urgency,
            reason=request.reason,
            consent=request.consent,
            shared_fields=list(request.shared_fields),
        ),
    ]


def request_closure(state: CaseState, c: RequestClosure, rules: Rules) -> list[DomainEvent]:
    if c.reason not in rules.closure_reasons:
        refuse(
            "unknown_closure_reason",
            "Unknown closure reason.",
            "Motif de clôture inconnu.",
            status=422,
            field="reason",
        )
    return [ev.ClosureRequested(reason=c.reason, note=c.note)]


def decide_closure(state: CaseState, c: DecideClosure) -> list[DomainEvent]:
    if state.status != "closure_requested":
        refuse(
            "no_closure_request",
            "No closure request awaits a decision.",
            "Aucune demande de clôture n'attend de décision.",
        )
    if not c.by_supervisor:
        refuse(
            "supervisor_required",
            "Only a supervisor decides on a closure.",
            "Seul un superviseur décide d'une clôture.",
            status=403,
        )
    if not c.approve:
        return [ev.ClosureRejected(note=c.note)]
    if c.by == state.closure_requested_by:
        # Four eyes: whoever asked to close cannot also approve it.
        refuse(
            "same_person",
            "The person who asked for the closure cannot approve it.",
            "La personne qui a demandé la clôture ne peut pas l'approuver.",
            status=403,
        )
    assert state.closure_reason is not None and state.closure_requested_by is not None
    return [
        ev.CaseClosed(
            reason=state.closure_reason,
            requested_by=state.closure_requested_by,
            approved_by=c.by,
        )
    ]
