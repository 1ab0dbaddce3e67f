"""Casework's answers: the response models of the reading routes, so the OpenAPI document
says what each answer holds. (Command answers are in ``cases.py``.)"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class CaseSummaryOut(BaseModel):
    case_id: str
    child_id: str
    agency: str
    unit: str | None
    stage: str
    stage_due_at: str | None
    overdue: bool
    status: str
    risk_level: str
    urgency: str
    worker_id: str | None
    supervisor_id: str | None
    opened_at: str | None
    opened_directly: bool
    next_visit_due: str | None
    visit_overdue: bool
    version: int = Field(description="The case's version: send it as If-Match to change it")


class CasePageOut(BaseModel):
    items: list[CaseSummaryOut]
    total: int
    limit: int
    offset: int


class ReferralRefusalOut(BaseModel):
    code: str | None
    message: str | None


class ReferralDeclineOut(BaseModel):
    """The receiving unit's answer to a declined referral."""

    reason: str | None
    suggested_unit: str | None


class PlanActionOut(BaseModel):
    action_id: str
    text: str
    responsible_agency: str
    responsible_unit: str | None
    service_kind: str
    due_on: str
    referral_id: str | None
    referral_status: str | None
    referral_refusal: ReferralRefusalOut | None
    referral_decline: ReferralDeclineOut | None = None


class GoalOut(BaseModel):
    model_config = ConfigDict(extra="allow")  # the goal as recorded

    goal_id: str
    actions: list[PlanActionOut]


class CaseOut(CaseSummaryOut):
    """One case; besides these fields, the case's record as kept: its reports, assessments,
    determinations, services, visits, pending closure request, transfers."""

    model_config = ConfigDict(extra="allow")

    child_display_name: str | None = Field(
        default=None,
        description="The child's name (else alias) from intake's record; none until intake "
        "recorded the child, or for a child recorded as unidentified",
    )
    sex: str
    age_band: str
    commune: str
    concerns: list[str]
    competency_override: bool
    closure_reason: str | None
    received_at: str | None
    closed_at: str | None
    goals: list[GoalOut]
    site: str = Field(
        description="The site that owns the case (where a change to it is applied; decision "
        "0028): this site's id, or the regional office or hub it was sourced from"
    )
    released_to: str | None = Field(
        default=None,
        description="The site the owner released the case to, until that site takes it over "
        "(decision 0030); a change asked meanwhile is that site's",
    )
    child_corrections: list[dict[str, Any]] = Field(
        description="Corrections of the child's details sent to intake: fields, when, outcome"
    )


class NoteOut(BaseModel):
    note_id: str
    sensitivity: str
    text: str
    author: str
    written_at: str | None


class NotePageOut(BaseModel):
    items: list[NoteOut]
    total: int
    limit: int
    offset: int


class IncomingTransferOut(BaseModel):
    transfer_id: str
    case_id: str
    from_agency: str
    to_agency: str
    to_unit: str | None
    requested_at: str | None
    hours_waiting: int
    urgency: str
    age_band: str
    sex: str
    concerns: list[str]
    version: int


class IncomingTransferPageOut(BaseModel):
    items: list[IncomingTransferOut]
    total: int
    limit: int
    offset: int


class WorkerLoadOut(BaseModel):
    worker_id: str | None
    open_cases: int
    overdue: int
    visits_overdue: int
    high_risk: int
    overridden: int


class CaseloadOut(BaseModel):
    workers: list[WorkerLoadOut]


class StagesOut(BaseModel):
    stages: dict[str, dict[str, int]] = Field(description="Open cases by stage, then risk level")


class OverdueCaseOut(CaseSummaryOut):
    overdue_for: list[Literal["stage", "follow_up_visit"]]
    overdue_since: str | None
    hours_overdue: int


class OverduePageOut(BaseModel):
    items: list[OverdueCaseOut]
    total: int
    limit: int
    offset: int


class WaitingOwnOut(BaseModel):
    """A child of the caller's agency waiting for something."""

    waiting_for: Literal[
        "assignment", "stage", "follow_up_visit", "transfer_answer", "referral_answer"
    ]
    case_id: str
    ref: str | None
    since: str | None
    hours_waiting: int
    urgency: str
    child_id: str
    agency: str
    stage: str
    risk_level: str
    worker_id: str | None


class WaitingIncomingOut(BaseModel):
    """A transfer offered to the caller's agency: only what deciding needs."""

    waiting_for: Literal["incoming_transfer"]
    case_id: str
    ref: str | None
    since: str | None
    hours_waiting: int
    urgency: str
    from_agency: str
    age_band: str
    sex: str
    concerns: list[str]


WaitingOut = Annotated[WaitingOwnOut | WaitingIncomingOut, Field(discriminator="waiting_for")]


class WaitingPageOut(BaseModel):
    items: list[WaitingOut]
    total: int
    limit: int
    offset: int
