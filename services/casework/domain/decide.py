"""``decide``: the events a command produces, or a :class:`DomainError` saying why not."""

from __future__ import annotations

from datetime import datetime

from contracts import casework as ev
from services.casework.domain.commands import (
    AddAction,
    AddGoal,
    AddNote,
    AnswerTransfer,
    Assign,
    AttachReport,
    ChangeStage,
    Command,
    DecideClosure,
    DeliverService,
    DetermineBestInterests,
    FlagOverdue,
    FlagVisitOverdue,
    OpenCase,
    OpenDirectly,
    RecordAssessment,
    RecordVisit,
    ReleaseToSite,
    Reopen,
    ReportChildDetails,
    RequestTransfer,
    WithdrawTransfer,
)
from services.casework.domain.followup import (
    add_note,
    deliver_service,
    flag_visit_overdue,
    record_visit,
    report_child_details,
)
from services.casework.domain.records import (
    assess,
    best_interests,
    decide_closure,
    plan,
    request_closure,
)
from services.casework.domain.rules import Rules
from services.casework.domain.state import (
    RISK_LEVELS,
    STAGES,
    CaseState,
    age_band_of,
    initial_risk,
    iso,
)
from services.casework.domain.transfer import (
    answer_transfer,
    refuse_if_pending,
    release_to_site,
    request_transfer,
    withdraw_transfer,
)
from shared.domain import DomainError, refuse
from shared.events import DomainEvent
from shared.i18n import Message


def decide(state: CaseState, command: Command, rules: Rules) -> list[DomainEvent]:
    if isinstance(command, OpenCase):
        return _open(state, command, rules)
    if isinstance(command, OpenDirectly):
        return _open_directly(state, command, rules)
    if not state.exists:
        refuse("case_not_found", "No such case.", "Dossier introuvable.", status=404)
    if isinstance(command, FlagOverdue):
        return _flag_overdue(state, command)
    if isinstance(command, FlagVisitOverdue):
        return flag_visit_overdue(state, command)
    if isinstance(command, Reopen):
        return _reopen(state, command, rules)
    if state.status == "closed":
        refuse("case_closed", "The case is closed.", "Le dossier est clos.")
    if isinstance(command, AttachReport):
        return _attach(state, command)
    if isinstance(command, DecideClosure):
        return decide_closure(state, command)
    if isinstance(command, AnswerTransfer):
        return answer_transfer(state, command)
    if isinstance(command, WithdrawTransfer):
        return withdraw_transfer(state, command)
    if isinstance(command, ReleaseToSite):
        return release_to_site(state, command)
    # The work with the child goes on while a closure awaits its decision.
    if isinstance(command, DeliverService):
        return deliver_service(state, command, rules)
    if isinstance(command, RecordVisit):
        return record_visit(state, command)
    if isinstance(command, AddNote):
        return add_note(state, command)
    if isinstance(command, ReportChildDetails):
        return report_child_details(state, command)
    if state.status == "closure_requested":
        refuse(
            "closure_pending",
            "A closure request awaits a supervisor's decision.",
            "Une demande de clôture attend la décision d'un superviseur.",
        )
    if isinstance(command, Assign):
        return _assign(state, command, rules)
    if isinstance(command, ChangeStage):
        return _change_stage(state, command, rules)
    if isinstance(command, RecordAssessment):
        return assess(state, command)
    if isinstance(command, DetermineBestInterests):
        return best_interests(state, command)
    if isinstance(command, AddGoal | AddAction):
        return plan(state, command, rules)
    if isinstance(command, RequestTransfer):
        return request_transfer(state, command)
    # Closing while another agency decides whether to take the case would lose its answer.
    refuse_if_pending(state)
    return request_closure(state, command, rules)


def _open(state: CaseState, c: OpenCase, rules: Rules) -> list[DomainEvent]:
    if state.exists:
        refuse("case_exists", "This case is already open.", "Ce dossier est déjà ouvert.")
    due = rules.due("registration", c.urgency, c.received_at)
    assert due is not None
    return [
        ev.CaseOpened(
            case_id=c.case_id,
            child_id=c.child_id,
            sex=c.sex,
            age_band=c.age_band,
            report_id=c.report_id,
            agency=c.agency,
            unit=c.unit,
            commune=c.commune,
            concerns=list(c.concerns),
            urgency=c.urgency,
            immediate_danger=c.immediate_danger,
            initial_risk=initial_risk(c.urgency, c.immediate_danger),
            received_at=iso(c.received_at),
            registration_due_at=iso(due),
        )
    ]


def _open_directly(state: CaseState, c: OpenDirectly, rules: Rules) -> list[DomainEvent]:
    if state.exists:
        refuse("case_exists", "This case is already open.", "Ce dossier est déjà ouvert.")
    risk = c.initial_risk or initial_risk(c.urgency, c.immediate_danger)
    if risk not in RISK_LEVELS:
        refuse(
            "unknown_risk",
            "Unknown risk level.",
            "Niveau de risque inconnu.",
            status=422,
            field="initial_risk",
        )
    if c.immediate_danger and risk != "high":
        refuse(
            "danger_is_high_risk",
            "A child in immediate danger is at high risk.",
            "Un enfant en danger immédiat court un risque élevé.",
            status=422,
            field="initial_risk",
        )
    due = rules.due("registration", c.urgency, c.found_at)
    assert due is not None
    found = iso(c.found_at)
    # Statistics need the sex and age band on the case; the description itself goes to
    # intake, which owns the child's identity, and casework keeps only the id.
    return [
        ev.CaseOpened(
            case_id=c.case_id,
            child_id=c.child_id,
            sex=c.child.sex,
            age_band=age_band_of(c.child, c.found_at.date(), rules),
            report_id=None,
            opened_directly=True,
            agency=c.agency,
            unit=c.unit,
            commune=c.commune,
            concerns=list(c.concerns),
            urgency=c.urgency,
            immediate_danger=c.immediate_danger,
            initial_risk=risk,
            received_at=found,
            registration_due_at=iso(due),
        ),
        ev.ChildIdentified(
            child_id=c.child_id,
            agency=c.agency,
            unit=c.unit,
            commune=c.commune,
            found_at=found,
            details=c.child,
        ),
    ]


def _attach(state: CaseState, c: AttachReport) -> list[DomainEvent]:
    if c.report_id in state.reports:
        return []  # already part of the case: nothing new to say
    return [
        ev.ReportAttachedToCase(
            report_id=c.report_id,
            child_id=c.child_id,
            concerns=list(c.concerns),
            urgency=c.urgency,
            received_at=c.received_at,
        )
    ]


def _assign(state: CaseState, c: Assign, rules: Rules) -> list[DomainEvent]:
    if c.supervisor_id == c.worker_id:
        refuse(
            "supervisor_is_worker",
            "The supervisor must be someone other than the case worker.",
            "Le superviseur doit être une autre personne que le travailleur social référent.",
            status=422,
            field="supervisor_id",
        )
    if c.worker_sector is None:
        refuse(
            "worker_not_in_directory",
            "This worker is not in the staff directory.",
            "Cet intervenant ne figure pas dans l'annuaire du personnel.",
            status=422,
            field="worker_id",
        )
    if c.worker_agency != state.agency:
        refuse(
            "worker_other_agency",
            "This worker belongs to another agency than the case.",
            "Cet intervenant appartient à une autre structure que celle du dossier.",
            status=422,
            field="worker_id",
        )
    assert c.worker_sector is not None
    required = rules.required_competencies(state.concerns, c.worker_sector)
    missing = [code for code in required if not rules.meets(c.worker_levels.get(code))]
    override = (c.override_reason or "").strip() or None
    if missing and override is None:
        raise DomainError(
            "competency_missing",
            Message(
                en="This worker has no assessment at 'meets expectations' or better in the "
                "competencies this case needs. A supervisor may override with a reason.",
                fr="Cet intervenant n'a pas d'évaluation au niveau « répond aux attentes » ou "
                "mieux dans les compétences qu'exige ce dossier. Un superviseur peut passer "
                "outre en donnant un motif.",
            ),
            status=422,
            field="worker_id",
            extra={"missing_competencies": missing},
        )
    if missing and not c.by_supervisor:
        refuse(
            "override_needs_supervisor",
            "Only a supervisor may override the competency requirement.",
            "Seul un superviseur peut passer outre l'exigence de compétence.",
            status=403,
            field="override_reason",
        )
    return [
        ev.CaseAssigned(
            worker_id=c.worker_id,
            supervisor_id=c.supervisor_id,
            required_competencies=required,
            missing_competencies=missing,
            override_reason=override if missing else None,
            overridden_by=c.by if missing else None,
        )
    ]


def _change_stage(state: CaseState, c: ChangeStage, rules: Rules) -> list[DomainEvent]:
    if c.to not in STAGES:
        refuse("unknown_stage", "Unknown stage.", "Étape inconnue.", status=422, field="to")
    if c.to == "closure":
        refuse(
            "use_closure_request",
            "A case is closed by a closure request and a supervisor's approval.",
            "Un dossier se clôt par une demande de clôture approuvée par un superviseur.",
            status=422,
            field="to",
        )
    here, there = STAGES.index(state.stage), STAGES.index(c.to)
    if there <= here:
        refuse(
            "stage_not_forward",
            "A case only moves forward to a later stage.",
            "Un dossier n'avance que vers une étape ultérieure.",
            field="to",
        )
    # Best interests may be skipped when no major decision is at stake; nothing else may.
    skipping_bid = state.stage == "comprehensive_assessment" and c.to == "case_plan"
    if there != here + 1 and not skipping_bid:
        refuse(
            "stage_skipped",
            "The case must go through each stage in turn.",
            "Le dossier doit passer par chaque étape dans l'ordre.",
            field="to",
        )
    _stage_guard(state, c.to)
    due = rules.due(c.to, state.urgency, c.now)
    return [
        ev.StageChanged(from_stage=state.stage, to_stage=c.to, due_at=iso(due) if due else None)
    ]


def _stage_guard(state: CaseState, to: str) -> None:
    if to == "initial_assessment" and state.worker_id is None:
        refuse(
            "not_assigned",
            "Assign a case worker first.",
            "Affectez d'abord un travailleur social référent.",
        )
    if to == "comprehensive_assessment" and not state.initial_assessed:
        refuse(
            "initial_assessment_missing",
            "Record the initial assessment first.",
            "Enregistrez d'abord l'évaluation initiale.",
        )
    if to in ("best_interests", "case_plan") and not state.comprehensive_assessed:
        refuse(
            "comprehensive_assessment_missing",
            "Record the comprehensive assessment first.",
            "Enregistrez d'abord l'évaluation approfondie.",
        )
    if (
        to == "case_plan"
        and state.stage == "best_interests"
        and not (state.best_interests_determined)
    ):
        refuse(
            "best_interests_missing",
            "Record the best-interests determination first.",
            "Enregistrez d'abord la détermination de l'intérêt supérieur.",
        )
    if to == "implementation" and not state.actions:
        refuse(
            "plan_empty",
            "The case plan needs at least one goal with an action.",
            "Le plan d'intervention doit compter au moins un objectif avec une action.",
        )


def _reopen(state: CaseState, c: Reopen, rules: Rules) -> list[DomainEvent]:
    if state.status != "closed":
        refuse("case_not_closed", "The case is not closed.", "Le dossier n'est pas clos.")
    due = rules.due("initial_assessment", state.urgency, c.now)
    assert due is not None
    return [ev.CaseReopened(reason=c.reason, due_at=iso(due))]


def _flag_overdue(state: CaseState, c: FlagOverdue) -> list[DomainEvent]:
    if state.status == "closed" or state.overdue_flagged or state.stage_due_at is None:
        return []
    if datetime.fromisoformat(state.stage_due_at) > c.now:
        return []
    return [ev.StageOverdue(stage=state.stage, due_at=state.stage_due_at)]
