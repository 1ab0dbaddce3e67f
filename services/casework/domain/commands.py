"""Commands: what a person or a policy asks of a case, with the facts the shell looked up
(times, the worker's directory entry) so that deciding stays pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from contracts.casework import IdentifiedChild, RequestedConsent


@dataclass(frozen=True)
class OpenCase:
    case_id: str
    child_id: str
    sex: str
    age_band: str
    report_id: str
    agency: str
    unit: str | None
    commune: str
    concerns: tuple[str, ...]
    urgency: str
    immediate_danger: bool
    received_at: datetime


@dataclass(frozen=True)
class OpenDirectly:
    """A worker who found a child opens the case at once, describing the child."""

    case_id: str
    child_id: str
    child: IdentifiedChild
    agency: str
    unit: str | None
    commune: str
    concerns: tuple[str, ...]
    urgency: str
    immediate_danger: bool
    found_at: datetime
    initial_risk: str | None = None  # None: derived from urgency and danger


@dataclass(frozen=True)
class AttachReport:
    report_id: str
    child_id: str
    concerns: tuple[str, ...]
    urgency: str
    received_at: str


@dataclass(frozen=True)
class Assign:
    worker_id: str
    supervisor_id: str
    by: str
    by_supervisor: bool
    worker_sector: str | None  # None: the worker is not in the staff directory
    worker_agency: str | None
    worker_levels: Mapping[str, str] = field(default_factory=dict)
    override_reason: str | None = None


@dataclass(frozen=True)
class ChangeStage:
    to: str
    now: datetime


@dataclass(frozen=True)
class ChildViews:
    views: str | None = None
    not_heard_reason: str | None = None
    not_heard_detail: str | None = None


@dataclass(frozen=True)
class RecordAssessment:
    assessment_id: str
    kind: str
    needs: tuple[str, ...]
    risk_level: str
    child: ChildViews
    summary: str | None = None


@dataclass(frozen=True)
class DetermineBestInterests:
    determination_id: str
    decision_kind: str
    decision: str
    options_considered: tuple[str, ...]
    participants: tuple[str, ...]
    child: ChildViews


@dataclass(frozen=True)
class AddGoal:
    goal_id: str
    text: str


@dataclass(frozen=True)
class ReferralRequest:
    """What referral needs to make the referral for a plan action of another agency."""

    referral_id: str
    to_unit: str
    urgency: str
    reason: str
    consent: RequestedConsent
    shared_fields: tuple[str, ...]


@dataclass(frozen=True)
class AddAction:
    action_id: str
    goal_id: str
    text: str
    responsible_agency: str
    responsible_unit: str | None
    service_kind: str
    due_on: date
    referral_id: str | None = None
    request: ReferralRequest | None = None


@dataclass(frozen=True)
class RequestClosure:
    reason: str
    by: str
    note: str | None = None


@dataclass(frozen=True)
class DecideClosure:
    approve: bool
    by: str
    by_supervisor: bool
    note: str | None = None


@dataclass(frozen=True)
class Reopen:
    reason: str
    now: datetime


@dataclass(frozen=True)
class FlagOverdue:
    now: datetime


@dataclass(frozen=True)
class DeliverService:
    service_id: str
    service_kind: str
    delivered_on: date
    unit: str | None  # the recording worker's unit, when no action or referral names one
    action_id: str | None = None
    referral_id: str | None = None
    note: str | None = None
    # Referrals of this case casework has heard of: id -> (receiving agency, unit), if known.
    known_referrals: Mapping[str, tuple[str | None, str | None]] = field(default_factory=dict)


@dataclass(frozen=True)
class RecordVisit:
    visit_id: str
    visited_on: date
    child_seen: bool
    risk_level: str | None = None
    findings: str | None = None
    next_visit_due: date | None = None


@dataclass(frozen=True)
class FlagVisitOverdue:
    today: date


@dataclass(frozen=True)
class AddNote:
    note_id: str
    sensitivity: str
    text: str


@dataclass(frozen=True)
class ReportChildDetails:
    """Corrected details of the child, for intake to apply to the child record."""

    changes: Mapping[str, Any]  # JSON values, named as in intake's correction body
    reason: str


@dataclass(frozen=True)
class RequestTransfer:
    transfer_id: str
    to_agency: str
    to_unit: str | None
    reason: str
    # Looked up in the directory by the shell: None when the agency is unknown there.
    to_agency_units: frozenset[str] | None


@dataclass(frozen=True)
class AnswerTransfer:
    transfer_id: str
    accept: bool
    by: str
    by_agency: str
    reason: str | None = None


@dataclass(frozen=True)
class WithdrawTransfer:
    transfer_id: str
    reason: str


@dataclass(frozen=True)
class ReleaseToSite:
    """Give the case to another site (another instance's log): decision 0030."""

    to_site: str
    reason: str
    here: str  # the site this instance is, which owns the case now
    # The other sites this one knows (the ones its streams copy, those whose cases it holds):
    # a site outside them would never take the case over, and the case would be stuck.
    known: frozenset[str]


Command = (
    OpenCase
    | OpenDirectly
    | AttachReport
    | Assign
    | ChangeStage
    | RecordAssessment
    | DetermineBestInterests
    | AddGoal
    | AddAction
    | RequestClosure
    | DecideClosure
    | Reopen
    | FlagOverdue
    | DeliverService
    | RecordVisit
    | FlagVisitOverdue
    | AddNote
    | ReportChildDetails
    | RequestTransfer
    | AnswerTransfer
    | WithdrawTransfer
    | ReleaseToSite
)
