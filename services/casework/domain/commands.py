"""Commands: what a person or a policy asks of a case, with the facts the shell looked up
(times, the worker's directory entry) so that deciding stays pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime


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
class AddAction:
    action_id: str
    goal_id: str
    text: str
    responsible_agency: str
    responsible_unit: str | None
    service_kind: str
    due_on: date
    referral_id: str | None = None


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


Command = (
    OpenCase
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
)
