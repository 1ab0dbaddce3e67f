"""The case's state and how each event changes it (``evolve``); no I/O."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime

from contracts import casework as ev
from services.casework.domain.rules import Rules
from shared.events import DomainEvent

STAGES: tuple[str, ...] = (
    "registration",
    "initial_assessment",
    "comprehensive_assessment",
    "best_interests",
    "case_plan",
    "implementation",
    "follow_up",
    "closure",
)
RISK_LEVELS = ("low", "medium", "high")
NOT_HEARD_REASONS = ("age", "capacity", "safety", "other")
# Decisions that change where or with whom a child lives, or bring in a court: the child's
# views (or why they could not be heard) are mandatory for these.
MAJOR_DECISIONS = frozenset(
    {"placement", "return_to_family", "family_reunification", "judicial_measure", "transfer"}
)
DECISION_KINDS = (*sorted(MAJOR_DECISIONS), "other")
NOTE_SENSITIVITIES = ("normal", "restricted", "confidential")


@dataclass(frozen=True)
class PlannedAction:
    responsible_agency: str
    responsible_unit: str | None
    service_kind: str
    referral_id: str | None


@dataclass(frozen=True)
class PendingTransfer:
    transfer_id: str
    to_agency: str
    to_unit: str | None


@dataclass(frozen=True)
class CaseState:
    exists: bool = False
    case_id: str = ""
    child_id: str = ""
    agency: str = ""
    unit: str | None = None
    concerns: tuple[str, ...] = ()
    urgency: str = "normal"
    risk_level: str = "low"
    stage: str = "registration"
    stage_due_at: str | None = None
    overdue_flagged: bool = False
    status: str = "open"  # open, closure_requested, closed
    worker_id: str | None = None
    supervisor_id: str | None = None
    reports: frozenset[str] = frozenset()
    initial_assessed: bool = False
    comprehensive_assessed: bool = False
    best_interests_determined: bool = False
    goals: frozenset[str] = frozenset()
    actions: frozenset[str] = frozenset()
    closure_reason: str | None = None
    closure_requested_by: str | None = None
    planned: Mapping[str, PlannedAction] = field(default_factory=dict)
    next_visit_due: str | None = None  # YYYY-MM-DD, set by the latest visit
    last_visit_id: str | None = None
    visit_overdue_flagged: bool = False
    pending_transfer: PendingTransfer | None = None
    # Every transfer ever requested -> its receiving agency: who may answer, or hear it is
    # answered already.
    transfer_targets: Mapping[str, str] = field(default_factory=dict)
    # The sites that released the case to the one holding it now (decision 0030): a case
    # cannot go back to one of them, whose own log already holds its earlier events.
    former_sites: frozenset[str] = frozenset()


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def initial_risk(urgency: str, immediate_danger: bool) -> str:
    # Provisional until the initial assessment: screening's urgency is the only signal yet.
    if immediate_danger or urgency == "emergency":
        return "high"
    return "medium" if urgency == "high" else "low"


def age_band_of(child: ev.IdentifiedChild, on: date, rules: Rules) -> str:
    """The band of what is known of the child's age on the day they were found."""
    if child.date_of_birth:
        born = date.fromisoformat(child.date_of_birth)
        return rules.age_band(on.year - born.year - ((on.month, on.day) < (born.month, born.day)))
    if child.age_years is not None:
        return rules.age_band(child.age_years)
    if child.age_min is not None and child.age_max is not None:
        # A range inside one band still counts there; one that spans two does not.
        low, high = rules.age_band(child.age_min), rules.age_band(child.age_max)
        return low if low == high else "unknown"
    return "unknown"


# -- evolve --------------------------------------------------------------------------------

_URGENCY_RANK = {"normal": 0, "high": 1, "emergency": 2}


def evolve(state: CaseState, event: DomainEvent, *, actor: str = "") -> CaseState:
    """Fold one event; ``actor`` is the envelope's user, needed for the four-eyes rule."""
    if isinstance(event, ev.CaseOpened):
        return CaseState(
            exists=True,
            case_id=event.case_id,
            child_id=event.child_id,
            agency=event.agency,
            unit=event.unit,
            concerns=tuple(event.concerns),
            urgency=event.urgency,
            risk_level=event.initial_risk,
            stage_due_at=event.registration_due_at,
            reports=frozenset({event.report_id}) if event.report_id else frozenset(),
        )
    if isinstance(event, ev.ReportAttachedToCase):
        urgent = max(state.urgency, event.urgency, key=lambda u: _URGENCY_RANK.get(u, 0))
        concerns = tuple(dict.fromkeys((*state.concerns, *event.concerns)))
        return replace(
            state, reports=state.reports | {event.report_id}, concerns=concerns, urgency=urgent
        )
    if isinstance(event, ev.CaseAssigned):
        return replace(state, worker_id=event.worker_id, supervisor_id=event.supervisor_id)
    if isinstance(event, ev.StageChanged):
        return replace(
            state, stage=event.to_stage, stage_due_at=event.due_at, overdue_flagged=False
        )
    if isinstance(event, ev.StageOverdue):
        return replace(state, overdue_flagged=True)
    if isinstance(event, ev.AssessmentRecorded):
        if event.kind == "initial":
            return replace(state, risk_level=event.risk_level, initial_assessed=True)
        return replace(state, risk_level=event.risk_level, comprehensive_assessed=True)
    if isinstance(event, ev.BestInterestsDetermined):
        return replace(state, best_interests_determined=True)
    if isinstance(event, ev.PlanGoalAdded):
        return replace(state, goals=state.goals | {event.goal_id})
    if isinstance(event, ev.PlanActionAdded):
        planned = PlannedAction(
            event.responsible_agency, event.responsible_unit, event.service_kind, event.referral_id
        )
        return replace(
            state,
            actions=state.actions | {event.action_id},
            planned={**state.planned, event.action_id: planned},
        )
    if isinstance(event, ev.FollowUpVisitRecorded):
        return replace(
            state,
            risk_level=event.risk_level or state.risk_level,
            next_visit_due=event.next_visit_due,
            last_visit_id=event.visit_id,
            visit_overdue_flagged=False,
        )
    if isinstance(event, ev.FollowUpVisitOverdue):
        return replace(state, visit_overdue_flagged=True)
    if isinstance(event, ev.TransferRequested | ev.TransferAccepted | ev.TransferDeclined):
        return _transfer(state, event)
    if isinstance(event, ev.TransferWithdrawn):
        return replace(state, pending_transfer=None)
    if isinstance(event, ev.ClosureRequested):
        return replace(
            state,
            status="closure_requested",
            closure_reason=event.reason,
            closure_requested_by=actor,
        )
    if isinstance(event, ev.CaseTakenOverFromSite):
        return replace(state, former_sites=state.former_sites | {event.from_site})
    if isinstance(event, ev.ClosureRejected):
        return replace(state, status="open", closure_reason=None, closure_requested_by=None)
    if isinstance(event, ev.CaseClosed):
        # A closed case expects no visit: a reopened one schedules its own.
        return replace(
            state,
            status="closed",
            stage="closure",
            stage_due_at=None,
            next_visit_due=None,
            visit_overdue_flagged=False,
        )
    if isinstance(event, ev.CaseReopened):
        return replace(
            state,
            status="open",
            stage="initial_assessment",
            stage_due_at=event.due_at,
            overdue_flagged=False,
            closure_reason=None,
            closure_requested_by=None,
        )
    return state


def _transfer(
    state: CaseState, event: ev.TransferRequested | ev.TransferAccepted | ev.TransferDeclined
) -> CaseState:
    if isinstance(event, ev.TransferRequested):
        return replace(
            state,
            pending_transfer=PendingTransfer(event.transfer_id, event.to_agency, event.to_unit),
            transfer_targets={**state.transfer_targets, event.transfer_id: event.to_agency},
        )
    if isinstance(event, ev.TransferDeclined):
        return replace(state, pending_transfer=None)
    # Accepted: the new agency owns the case and must choose its own worker and supervisor.
    return replace(
        state,
        agency=event.to_agency,
        unit=event.to_unit,
        worker_id=None,
        supervisor_id=None,
        pending_transfer=None,
    )


def fold(events: Iterable[tuple[DomainEvent, str]]) -> CaseState:
    state = CaseState()
    for event, actor in events:
        state = evolve(state, event, actor=actor)
    return state
