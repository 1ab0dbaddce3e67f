"""Casework's events as integrators see them. The child's sex, age band, department and
concerns are published once, when the case opens; afterwards a case is followed by its
pseudonym through stages, assessments (risk and whether the child was heard, never what was
said), plan and closure (services, visits and transfers: ``casework_followup``). No worker,
supervisor or participant, no note, no text. A child's description, notes, corrections and the
requests casework sends to referral are not published (decision 0021)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from contracts import casework as ev
from contracts.public.base import (
    AgeBand,
    ClosureReason,
    Code,
    Concern,
    Department,
    Pseudonym,
    Publication,
    PublicEvent,
    RiskLevel,
    ServiceKind,
    Sex,
    Urgency,
    fixed,
    public_event,
)

Stage = Annotated[
    str,
    Code(
        fixed(
            "registration",
            "initial_assessment",
            "comprehensive_assessment",
            "best_interests",
            "case_plan",
            "implementation",
            "follow_up",
            "closure",
        ),
        "other",
        "Workflow stage",
    ),
]
AssessmentKind = Annotated[
    str, Code(fixed("initial", "comprehensive"), "other", "Kind of assessment")
]
NotHeardReason = Annotated[
    str,
    Code(fixed("age", "capacity", "safety", "other"), "other", "Why the child could not be heard"),
]
DecisionKind = Annotated[
    str,
    Code(
        fixed(
            "placement", "return_to_family", "family_reunification", "judicial_measure", "transfer"
        ),
        "other",
        "Kind of major decision",
    ),
]


def _competencies() -> frozenset[str]:
    from shared.reference import frameworks

    return frozenset(frameworks().competencies)


Competency = Annotated[
    str,
    Code(_competencies, "other", "<sector>.<competency> of the framework"),
]


@public_event(
    ev.CaseOpened,
    en="A case was opened for a child: the only event that describes the child (sex, age "
    "band, department, concerns).",
    fr="Un dossier a été ouvert pour un enfant : le seul événement qui décrit l'enfant (sexe, "
    "tranche d'âge, département, préoccupations).",
)
class CaseOpened(PublicEvent):
    case: Pseudonym
    child: Pseudonym
    report: Pseudonym | None
    opened_directly: bool
    agency: Pseudonym
    unit: Pseudonym | None
    sex: Sex
    age_band: AgeBand
    department: Department
    concerns: list[Concern]
    urgency: Urgency
    immediate_danger: bool
    initial_risk: RiskLevel
    received_on: date | None
    registration_due_on: date | None

    @classmethod
    def of(cls, e: ev.CaseOpened, c: Publication) -> CaseOpened:
        return cls(
            case=c.p("case", e.case_id),
            child=c.p("child", e.child_id),
            report=c.maybe("report", e.report_id),
            opened_directly=e.opened_directly,
            agency=c.p("agency", e.agency),
            unit=c.maybe("unit", e.unit),
            sex=(e.sex or "unknown").strip().lower(),
            age_band=e.age_band,
            department=c.department(e.commune),
            concerns=e.concerns,
            urgency=e.urgency,
            immediate_danger=e.immediate_danger,
            initial_risk=e.initial_risk,
            received_on=c.day(e.received_at),
            registration_due_on=c.day(e.registration_due_at),
        )


@public_event(ev.ReportAttachedToCase)
class ReportAttachedToCase(PublicEvent):
    report: Pseudonym
    child: Pseudonym
    concerns: list[Concern]
    urgency: Urgency
    received_on: date | None

    @classmethod
    def of(cls, e: ev.ReportAttachedToCase, c: Publication) -> ReportAttachedToCase:
        return cls(
            report=c.p("report", e.report_id),
            child=c.p("child", e.child_id),
            concerns=e.concerns,
            urgency=e.urgency,
            received_on=c.day(e.received_at),
        )


@public_event(
    ev.CaseAssigned,
    en="The case was assigned to a worker: the competencies it needs, how many the worker "
    "lacks, and whether a supervisor overrode (no one is named).",
    fr="Le dossier a été affecté : les compétences requises, combien manquent à "
    "l'intervenant, et si un superviseur a passé outre (personne n'est nommé).",
)
class CaseAssigned(PublicEvent):
    required_competencies: list[Competency]
    missing_competencies: int
    overridden: bool

    @classmethod
    def of(cls, e: ev.CaseAssigned, c: Publication) -> CaseAssigned:
        return cls(
            required_competencies=e.required_competencies,
            missing_competencies=len(e.missing_competencies),
            overridden=e.overridden_by is not None or e.override_reason is not None,
        )


@public_event(ev.StageChanged)
class StageChanged(PublicEvent):
    from_stage: Stage
    to_stage: Stage
    due_on: date | None

    @classmethod
    def of(cls, e: ev.StageChanged, c: Publication) -> StageChanged:
        return cls(from_stage=e.from_stage, to_stage=e.to_stage, due_on=c.day(e.due_at))


@public_event(ev.StageOverdue)
class StageOverdue(PublicEvent):
    stage: Stage
    due_on: date | None

    @classmethod
    def of(cls, e: ev.StageOverdue, c: Publication) -> StageOverdue:
        return cls(stage=e.stage, due_on=c.day(e.due_at))


@public_event(
    ev.AssessmentRecorded,
    en="An assessment was recorded: its kind, the risk level, how many needs it found and "
    "whether the child was heard (never what was said).",
    fr="Une évaluation a été enregistrée : sa nature, le niveau de risque, le nombre de "
    "besoins relevés et si l'enfant a été entendu (jamais ce qu'il a dit).",
)
class AssessmentRecorded(PublicEvent):
    assessment: Pseudonym
    kind: AssessmentKind
    risk_level: RiskLevel
    needs: int
    child_heard: bool
    not_heard_because: NotHeardReason | None

    @classmethod
    def of(cls, e: ev.AssessmentRecorded, c: Publication) -> AssessmentRecorded:
        return cls(
            assessment=c.p("assessment", e.assessment_id),
            kind=e.kind,
            risk_level=e.risk_level,
            needs=len(e.needs),
            child_heard=e.child_views is not None,
            not_heard_because=e.views_not_heard_reason,
        )


@public_event(
    ev.BestInterestsDetermined,
    en="A best-interests determination was made for a major decision: its kind, how many took "
    "part and whether the child was heard (not the decision's text, nor who took part).",
    fr="Une détermination de l'intérêt supérieur a été faite : la nature de la décision, le "
    "nombre de participants et si l'enfant a été entendu (ni le texte, ni les participants).",
)
class BestInterestsDetermined(PublicEvent):
    determination: Pseudonym
    decision_kind: DecisionKind
    participants: int
    child_heard: bool
    not_heard_because: NotHeardReason | None

    @classmethod
    def of(cls, e: ev.BestInterestsDetermined, c: Publication) -> BestInterestsDetermined:
        return cls(
            determination=c.p("determination", e.determination_id),
            decision_kind=e.decision_kind,
            participants=len(e.participants),
            child_heard=e.child_views is not None,
            not_heard_because=e.views_not_heard_reason,
        )


@public_event(
    ev.PlanGoalAdded,
    en="A goal was added to the case plan (its text is not published).",
    fr="Un objectif a été ajouté au plan (son texte n'est pas publié).",
)
class PlanGoalAdded(PublicEvent):
    goal: Pseudonym

    @classmethod
    def of(cls, e: ev.PlanGoalAdded, c: Publication) -> PlanGoalAdded:
        return cls(goal=c.p("goal", e.goal_id))


@public_event(ev.PlanActionAdded)
class PlanActionAdded(PublicEvent):
    action: Pseudonym
    goal: Pseudonym
    responsible_agency: Pseudonym
    responsible_unit: Pseudonym | None
    service_kind: ServiceKind
    due_on: date | None
    referral: Pseudonym | None

    @classmethod
    def of(cls, e: ev.PlanActionAdded, c: Publication) -> PlanActionAdded:
        return cls(
            action=c.p("action", e.action_id),
            goal=c.p("goal", e.goal_id),
            responsible_agency=c.p("agency", e.responsible_agency),
            responsible_unit=c.maybe("unit", e.responsible_unit),
            service_kind=e.service_kind,
            due_on=c.day(e.due_on),
            referral=c.maybe("referral", e.referral_id),
        )


@public_event(ev.ClosureRequested)
class ClosureRequested(PublicEvent):
    reason: ClosureReason

    @classmethod
    def of(cls, e: ev.ClosureRequested, c: Publication) -> ClosureRequested:
        return cls(reason=e.reason)


@public_event(ev.ClosureRejected)
class ClosureRejected(PublicEvent):
    @classmethod
    def of(cls, e: ev.ClosureRejected, c: Publication) -> ClosureRejected:
        return cls()


@public_event(ev.CaseClosed)
class CaseClosed(PublicEvent):
    reason: ClosureReason

    @classmethod
    def of(cls, e: ev.CaseClosed, c: Publication) -> CaseClosed:
        return cls(reason=e.reason)


@public_event(
    ev.CaseReopened,
    en="A closed case was reopened (the reason is not published).",
    fr="Un dossier clos a été rouvert (le motif n'est pas publié).",
)
class CaseReopened(PublicEvent):
    due_on: date | None

    @classmethod
    def of(cls, e: ev.CaseReopened, c: Publication) -> CaseReopened:
        return cls(due_on=c.day(e.due_at))
