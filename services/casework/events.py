"""The casework service's events: its public contract (aggregate ``case``)."""

from __future__ import annotations

from pydantic import Field

from shared.events import DomainEvent, event_type

CONTEXT = "casework"
AGGREGATE = "case"


@event_type(
    context=CONTEXT,
    aggregate=AGGREGATE,
    en="A case was opened for a child from an accepted report.",
    fr="Un dossier a été ouvert pour un enfant à partir d'un signalement accepté.",
)
class CaseOpened(DomainEvent):
    case_id: str
    child_id: str
    sex: str
    age_band: str
    report_id: str
    agency: str
    unit: str | None = None
    commune: str
    concerns: list[str]
    urgency: str
    immediate_danger: bool = False
    initial_risk: str = Field(description="low, medium or high; provisional until assessed")
    received_at: str
    registration_due_at: str


@event_type(
    context=CONTEXT,
    aggregate=AGGREGATE,
    en="A new accepted report on a child was added to the child's open case.",
    fr="Un nouveau signalement accepté sur un enfant a été ajouté à son dossier ouvert.",
)
class ReportAttachedToCase(DomainEvent):
    report_id: str
    child_id: str
    concerns: list[str]
    urgency: str
    received_at: str


@event_type(
    context=CONTEXT,
    aggregate=AGGREGATE,
    en="A case worker and a supervisor were assigned to the case.",
    fr="Un travailleur social référent et un superviseur ont été affectés au dossier.",
)
class CaseAssigned(DomainEvent):
    worker_id: str
    supervisor_id: str
    required_competencies: list[str]
    missing_competencies: list[str] = Field(
        description="Competencies the worker lacks; non-empty only with a supervisor override"
    )
    override_reason: str | None = None
    overridden_by: str | None = None
    sensitive_fields = frozenset({"override_reason"})


@event_type(
    context=CONTEXT,
    aggregate=AGGREGATE,
    en="The case moved to another workflow stage, with the new stage's due date.",
    fr="Le dossier est passé à une autre étape, avec l'échéance de la nouvelle étape.",
)
class StageChanged(DomainEvent):
    from_stage: str
    to_stage: str
    due_at: str | None = None


@event_type(
    context=CONTEXT,
    aggregate=AGGREGATE,
    en="The case's current stage passed its due date (flagged by a policy).",
    fr="L'étape en cours du dossier a dépassé son échéance (signalé par une règle).",
)
class StageOverdue(DomainEvent):
    stage: str
    due_at: str


@event_type(
    context=CONTEXT,
    aggregate=AGGREGATE,
    en="An initial or comprehensive assessment was recorded, with the child's views or why "
    "they could not be heard.",
    fr="Une évaluation initiale ou approfondie a été enregistrée, avec l'opinion de l'enfant "
    "ou la raison pour laquelle il n'a pas pu être entendu.",
)
class AssessmentRecorded(DomainEvent):
    assessment_id: str
    kind: str = Field(description="initial or comprehensive")
    needs: list[str]
    risk_level: str
    summary: str | None = None
    child_views: str | None = None
    views_not_heard_reason: str | None = Field(
        default=None, description="age, capacity, safety or other"
    )
    views_not_heard_detail: str | None = None
    sensitive_fields = frozenset({"summary", "child_views", "views_not_heard_detail"})


@event_type(
    context=CONTEXT,
    aggregate=AGGREGATE,
    en="A best-interests determination was made for a major decision.",
    fr="Une détermination de l'intérêt supérieur a été faite pour une décision majeure.",
)
class BestInterestsDetermined(DomainEvent):
    determination_id: str
    decision_kind: str
    decision: str
    options_considered: list[str]
    participants: list[str]
    child_views: str | None = None
    views_not_heard_reason: str | None = None
    views_not_heard_detail: str | None = None
    sensitive_fields = frozenset(
        {"decision", "options_considered", "child_views", "views_not_heard_detail"}
    )


@event_type(
    context=CONTEXT,
    aggregate=AGGREGATE,
    en="A goal was added to the case plan.",
    fr="Un objectif a été ajouté au plan d'intervention.",
)
class PlanGoalAdded(DomainEvent):
    goal_id: str
    text: str
    sensitive_fields = frozenset({"text"})


@event_type(
    context=CONTEXT,
    aggregate=AGGREGATE,
    en="An action was added to a goal of the case plan; an action for another agency names "
    "the referral that carries it out.",
    fr="Une action a été ajoutée à un objectif du plan ; une action confiée à une autre "
    "structure nomme l'orientation qui la réalise.",
)
class PlanActionAdded(DomainEvent):
    action_id: str
    goal_id: str
    text: str
    responsible_agency: str
    responsible_unit: str | None = None
    service_kind: str
    due_on: str
    referral_id: str | None = None
    sensitive_fields = frozenset({"text"})


@event_type(
    context=CONTEXT,
    aggregate=AGGREGATE,
    en="A worker asked to close the case, with a reason; a supervisor must approve.",
    fr="Un intervenant a demandé la clôture du dossier, avec un motif ; un superviseur doit "
    "l'approuver.",
)
class ClosureRequested(DomainEvent):
    reason: str
    note: str | None = None
    sensitive_fields = frozenset({"note"})


@event_type(
    context=CONTEXT,
    aggregate=AGGREGATE,
    en="A supervisor turned down the request to close the case.",
    fr="Un superviseur a refusé la demande de clôture du dossier.",
)
class ClosureRejected(DomainEvent):
    note: str | None = None
    sensitive_fields = frozenset({"note"})


@event_type(
    context=CONTEXT,
    aggregate=AGGREGATE,
    en="A supervisor approved the closure: the case is closed with a reason.",
    fr="Un superviseur a approuvé la clôture : le dossier est clos avec un motif.",
)
class CaseClosed(DomainEvent):
    reason: str
    requested_by: str
    approved_by: str


@event_type(
    context=CONTEXT,
    aggregate=AGGREGATE,
    en="A closed case was reopened.",
    fr="Un dossier clos a été rouvert.",
)
class CaseReopened(DomainEvent):
    reason: str
    due_at: str
    sensitive_fields = frozenset({"reason"})
