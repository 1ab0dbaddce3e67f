"""The casework service's events: its public contract (aggregate ``case``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.events import DomainEvent, event_type
from shared.ownership import OwnershipReleased, OwnershipTakenOver

CONTEXT = "casework"
AGGREGATE = "case"


@event_type(
    context=CONTEXT,
    aggregate=AGGREGATE,
    en="A case was opened for a child, from an accepted report or directly by an authorised "
    "worker who found the child.",
    fr="Un dossier a été ouvert pour un enfant, à partir d'un signalement accepté ou "
    "directement par un intervenant habilité qui a trouvé l'enfant.",
)
class CaseOpened(DomainEvent):
    case_id: str
    child_id: str
    sex: str
    age_band: str
    report_id: str | None = Field(
        default=None, description="The accepted report; none when a worker opened it directly"
    )
    opened_directly: bool = False
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


# -- direct opening ------------------------------------------------------------------------


class IdentifiedChild(BaseModel):
    """The child as the worker who found them describes them (identifying: stays out of logs
    and feeds). Intake turns it into a child record; casework keeps only the id."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = Field(default=None, max_length=200)
    alias: str | None = Field(default=None, max_length=200)
    sex: str = "unknown"
    date_of_birth: str | None = Field(default=None, description="YYYY-MM-DD")
    age_years: int | None = Field(default=None, ge=0, le=17)
    age_min: int | None = Field(default=None, ge=0, le=17)
    age_max: int | None = Field(default=None, ge=0, le=17)
    documented: bool | None = None
    school_status: str | None = None
    vulnerabilities: list[str] = Field(default_factory=list)
    whereabouts: str | None = Field(default=None, max_length=500)


@event_type(
    context=CONTEXT,
    aggregate=AGGREGATE,
    en="A worker who opened a case directly described the child; intake creates the child "
    "record from it.",
    fr="Un intervenant qui a ouvert un dossier directement a décrit l'enfant ; l'accueil crée "
    "la fiche enfant à partir de cette description.",
)
class ChildIdentified(DomainEvent):
    child_id: str
    agency: str
    unit: str | None = None
    commune: str = Field(description="Location code, or 'unknown'")
    found_at: str = Field(description="When the worker found the child (RFC 3339)")
    details: IdentifiedChild
    sensitive_fields = frozenset({"details"})


# -- services, visits, notes ---------------------------------------------------------------


@event_type(
    context=CONTEXT,
    aggregate=AGGREGATE,
    en="A service was delivered to the child (by the owning agency or through a referral).",
    fr="Un service a été rendu à l'enfant (par la structure responsable ou par orientation).",
)
class ServiceDelivered(DomainEvent):
    service_id: str
    child_id: str
    service_kind: str
    agency: str = Field(description="Agency that delivered the service")
    unit: str | None = None
    delivered_on: str = Field(description="YYYY-MM-DD")
    action_id: str | None = Field(default=None, description="The plan action it carries out")
    referral_id: str | None = None
    note: str | None = Field(default=None, max_length=5000)
    sensitive_fields = frozenset({"note"})


@event_type(
    context=CONTEXT,
    aggregate=AGGREGATE,
    en="A follow-up visit to the child was recorded.",
    fr="Une visite de suivi de l'enfant a été enregistrée.",
)
class FollowUpVisitRecorded(DomainEvent):
    visit_id: str
    visited_on: str = Field(description="YYYY-MM-DD")
    child_seen: bool
    risk_level: str | None = Field(default=None, description="low, medium or high, if reassessed")
    findings: str | None = Field(default=None, max_length=5000)
    next_visit_due: str | None = Field(default=None, description="YYYY-MM-DD")
    sensitive_fields = frozenset({"findings"})


@event_type(
    context=CONTEXT,
    aggregate=AGGREGATE,
    en="A note was added to the case, with a sensitivity level that limits who may read it.",
    fr="Une note a été ajoutée au dossier, avec un niveau de sensibilité qui limite qui peut "
    "la lire.",
)
class CaseNoteAdded(DomainEvent):
    note_id: str
    sensitivity: str = Field(description="normal, restricted or confidential")
    text: str = Field(max_length=20000)
    sensitive_fields = frozenset({"text"})


@event_type(
    context=CONTEXT,
    aggregate=AGGREGATE,
    en="The follow-up visit a previous visit scheduled did not happen by its due date (flagged "
    "by a policy).",
    fr="La visite de suivi prévue lors d'une visite précédente n'a pas eu lieu à la date "
    "prévue (signalé par une règle).",
)
class FollowUpVisitOverdue(DomainEvent):
    visit_id: str = Field(description="The visit that scheduled the missed one")
    due_on: str = Field(description="YYYY-MM-DD")


# -- transfer ------------------------------------------------------------------------------


@event_type(
    context=CONTEXT,
    aggregate=AGGREGATE,
    en="The owning agency asked another agency to take over responsibility for the case.",
    fr="La structure responsable a demandé à une autre structure de reprendre le dossier.",
)
class TransferRequested(DomainEvent):
    transfer_id: str
    from_agency: str
    to_agency: str
    to_unit: str | None = None
    reason: str = Field(max_length=2000)
    sensitive_fields = frozenset({"reason"})


@event_type(
    context=CONTEXT,
    aggregate=AGGREGATE,
    en="The receiving agency accepted the transfer: it now owns the case.",
    fr="La structure destinataire a accepté le transfert : elle est désormais responsable du "
    "dossier.",
)
class TransferAccepted(DomainEvent):
    transfer_id: str
    from_agency: str
    to_agency: str
    to_unit: str | None = None
    accepted_by: str


@event_type(
    context=CONTEXT,
    aggregate=AGGREGATE,
    en="The receiving agency declined the transfer: responsibility stays where it was.",
    fr="La structure destinataire a refusé le transfert : la responsabilité reste inchangée.",
)
class TransferDeclined(DomainEvent):
    transfer_id: str
    to_agency: str
    reason: str = Field(max_length=2000)
    sensitive_fields = frozenset({"reason"})


@event_type(
    context=CONTEXT,
    aggregate=AGGREGATE,
    en="The owning agency withdrew its transfer request before the receiving agency answered.",
    fr="La structure responsable a retiré sa demande de transfert avant la réponse de la "
    "structure destinataire.",
)
class TransferWithdrawn(DomainEvent):
    transfer_id: str
    to_agency: str
    reason: str = Field(max_length=2000)
    sensitive_fields = frozenset({"reason"})


# -- site transfer (decisions 0029, 0030) -----------------------------------------------
# Moving the case to another site (another instance's log), not to another agency: the owner
# releases it, the receiving site takes it over as the first event under its own subjects
# (``shared.transfer``). Neither changes the case's state; only where it is changed.


@event_type(
    context=CONTEXT,
    aggregate=AGGREGATE,
    en="The site that owned the case released it to another site: only that site may change "
    "it from now on.",
    fr="Le site propriétaire du dossier l'a cédé à un autre site : seul ce site peut "
    "désormais le modifier.",
)
class CaseReleasedToSite(OwnershipReleased):
    reason: str = Field(max_length=2000)
    sensitive_fields = frozenset({"reason"})


@event_type(
    context=CONTEXT,
    aggregate=AGGREGATE,
    en="The receiving site took the case over from the site that released it: it owns the case "
    "now.",
    fr="Le site destinataire a repris le dossier cédé par l'autre site : il en est désormais "
    "propriétaire.",
)
class CaseTakenOverFromSite(OwnershipTakenOver):
    pass


# -- plan actions carried out by another agency --------------------------------------------


class RequestedConsent(BaseModel):
    """Consent for a referral, as recorded by the case worker (same shape as referral's)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    given: bool
    given_by: str | None = Field(default=None, description="child, guardian, both, court")
    given_at: str | None = None
    reason_not_sought: str | None = Field(default=None, max_length=1000)


@event_type(
    context=CONTEXT,
    aggregate=AGGREGATE,
    en="A plan action needs another agency: casework asks referral to make the referral "
    "(referral answers with ReferralMade or ReferralRequestRefused under the same id).",
    fr="Une action du plan relève d'une autre structure : le suivi demande à l'orientation de "
    "l'émettre (réponse ReferralMade ou ReferralRequestRefused sous le même identifiant).",
)
class ReferralRequested(DomainEvent):
    referral_id: str = Field(description="Chosen by casework; referral uses it as is")
    action_id: str
    child_id: str
    from_agency: str
    from_unit: str | None = None
    to_unit: str
    service_kind: str
    urgency: str = Field(description="emergency, high or normal")
    reason: str = Field(max_length=2000)
    consent: RequestedConsent
    shared_fields: list[str]
    sensitive_fields = frozenset({"reason"})


@event_type(
    context="casework",
    aggregate="case",
    en="A worker on the case reported corrected details of the child (the changed fields and "
    "the reason); intake corrects the child record from it.",
    fr="Un intervenant du dossier a signalé des informations corrigées sur l'enfant (les "
    "champs modifiés et le motif) ; l'accueil corrige la fiche enfant à partir de celles-ci.",
)
class ChildDetailsReported(DomainEvent):
    # Identifying: never in logs or feeds, and casework keeps only the field names.
    sensitive_fields = frozenset({"changes", "reason"})

    case_id: str
    child_id: str
    changes: dict[str, Any] = Field(
        min_length=1,
        description="The corrected fields only, named as in intake's correction body (name, "
        "alias, sex, date_of_birth, age_years, age_range, documented, school_status, "
        "vulnerabilities, whereabouts); null empties a field",
    )
    reason: str = Field(max_length=1000)
