"""Request bodies: every field checked against the reference codes, with reasons in French
and English. A body that fails here writes nothing."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from services.intake.domain import CorrectableChildIn
from shared.i18n import LocalisedValueError, Message
from shared.validation import (
    ONE_AGE,
    AgeRange,
    ChildDescription,
    JsonBody,
    check_channel,
    check_commune,
    check_concerns,
    check_urgency,
    not_future,
)

NARRATIVE_MAX = 20_000  # a long call transcribed; a 5 MB body is refused, not stored
TEXT_MAX = 2_000
SCHOOL_STATUSES = ("enrolled", "out_of_school", "never_schooled", "unknown")


class Strict(JsonBody):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ReporterIn(Strict):
    anonymous: bool = False
    name: str | None = Field(default=None, max_length=200)
    relation: str | None = Field(default=None, max_length=100)
    contact: str | None = Field(default=None, max_length=200)

    @model_validator(mode="after")
    def _anonymous_has_no_identity(self) -> Self:
        if self.anonymous and (self.name or self.contact):
            raise LocalisedValueError(
                Message(
                    en="An anonymous reporter has no name or contact.",
                    fr="Un déclarant anonyme n'a ni nom ni contact.",
                )
            )
        return self


class ChildIn(Strict, ChildDescription):
    unidentified: bool = False
    age_range: AgeRange | None = None

    @model_validator(mode="after")
    def _one_age(self) -> Self:
        given = [x for x in (self.date_of_birth, self.age_years, self.age_range) if x is not None]
        if len(given) > 1:
            raise LocalisedValueError(ONE_AGE)
        if self.unidentified and (self.name or self.alias):
            raise LocalisedValueError(
                Message(
                    en="An unidentified child has no name or alias.",
                    fr="Un enfant non identifié n'a ni nom ni surnom.",
                )
            )
        return self


class ReportIn(Strict):
    channel: str
    received_at: AwareDatetime
    commune: str
    concerns: list[str] = Field(min_length=1, max_length=20)
    children: list[ChildIn] = Field(min_length=1, max_length=50)
    reporter: ReporterIn | None = None
    alleged_perpetrator: str | None = Field(default=None, max_length=TEXT_MAX)
    narrative: str | None = Field(default=None, max_length=NARRATIVE_MAX)
    immediate_danger: bool = False
    urgency: str | None = Field(
        default=None, description="Provisional urgency; default emergency if in danger"
    )

    @field_validator("channel")
    @classmethod
    def _channel(cls, v: str) -> str:
        return check_channel(v)

    @field_validator("commune")
    @classmethod
    def _commune(cls, v: str) -> str:
        return check_commune(v)

    @field_validator("received_at")
    @classmethod
    def _received(cls, v: datetime) -> datetime:
        return not_future(v)

    @field_validator("concerns")
    @classmethod
    def _concerns(cls, v: list[str]) -> list[str]:
        return check_concerns(v)

    @field_validator("urgency")
    @classmethod
    def _urgency(cls, v: str | None) -> str | None:
        return v if v is None else check_urgency(v)


class ScreeningIn(Strict):
    decision: Literal["protection_concern", "not_a_concern", "redirect", "more_information"]
    urgency: str
    rationale: str = Field(min_length=3, max_length=TEXT_MAX)
    redirect_to: str | None = Field(default=None, max_length=200)
    receiving_agency: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="For a protection concern: the agency that will own the case, from the "
        "directory (one with a unit handling child protection). Default: your agency.",
    )
    receiving_unit: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="For a protection concern: the receiving agency's unit that takes the "
        "case, if you choose one (it must handle child protection). Default: none named, or "
        "your unit when the case stays with your agency.",
    )

    @field_validator("urgency")
    @classmethod
    def _urgency(cls, v: str) -> str:
        return check_urgency(v)


class AmendableIn(Strict):
    channel: str | None = None
    received_at: AwareDatetime | None = None
    commune: str | None = None
    concerns: list[str] | None = Field(default=None, min_length=1, max_length=20)
    reporter: ReporterIn | None = None
    alleged_perpetrator: str | None = Field(default=None, max_length=TEXT_MAX)
    narrative: str | None = Field(default=None, max_length=NARRATIVE_MAX)
    immediate_danger: bool | None = None
    urgency: str | None = None

    @field_validator("channel")
    @classmethod
    def _channel(cls, v: str | None) -> str | None:
        return v if v is None else check_channel(v)

    @field_validator("commune")
    @classmethod
    def _commune(cls, v: str | None) -> str | None:
        return v if v is None else check_commune(v)

    @field_validator("received_at")
    @classmethod
    def _received(cls, v: datetime | None) -> datetime | None:
        return v if v is None else not_future(v)

    @field_validator("urgency")
    @classmethod
    def _urgency(cls, v: str | None) -> str | None:
        return v if v is None else check_urgency(v)

    @field_validator("concerns")
    @classmethod
    def _concerns(cls, v: list[str] | None) -> list[str] | None:
        return v if v is None else check_concerns(v)


class AmendmentIn(Strict):
    changes: AmendableIn
    reason: str = Field(min_length=3, max_length=TEXT_MAX)


class ResolutionIn(Strict):
    note: str | None = Field(default=None, max_length=TEXT_MAX)


class ComplaintIn(Strict):
    about_user: str = Field(min_length=1, max_length=200)
    about_agency: str = Field(min_length=1, max_length=200)
    child_id: str | None = Field(default=None, max_length=64)
    complainant: Literal["child", "family", "other", "anonymous"]
    account: str = Field(min_length=3, max_length=NARRATIVE_MAX)
    # Given by the public complaint desk to the complainant; only its SHA-256 is kept.
    tracking_code: str | None = Field(default=None, pattern=r"^[A-Z0-9-]{16,40}$")


class ComplaintTrackingIn(Strict):
    tracking_code: str = Field(pattern=r"^[A-Z0-9-]{16,40}$")


class CorrectionIn(Strict):
    changes: CorrectableChildIn
    reason: str = Field(min_length=3, max_length=TEXT_MAX)


class AcknowledgementIn(Strict):
    note: str | None = Field(default=None, max_length=TEXT_MAX)


class ComplaintOutcomeIn(Strict):
    upheld: bool
    outcome: str = Field(min_length=3, max_length=NARRATIVE_MAX)


# -- answers ---------------------------------------------------------------------------------


class Out(BaseModel):
    """An answer: every field documented in the OpenAPI document."""


class SuggestionOut(Out):
    candidate_id: str
    score: float
    reasons: list[str] = Field(default_factory=list)
    explanation: dict[str, str] = Field(
        default_factory=dict, description="Why the matcher suggests it: en, fr"
    )
    weights_id: str | None = Field(default=None, description="The weights that scored it")


class ChildRecordedOut(Out):
    child_id: str
    recorded: bool = Field(description="False: the record is still to come (written shortly)")
    suggested_duplicates: list[SuggestionOut]


class ReportCreatedOut(Out):
    report_id: str
    version: int = Field(description="Send it as If-Match with the next command on the report")
    status: str
    urgency: str
    children: list[ChildRecordedOut]


class ScreeningOut(Out):
    report_id: str
    status: str
    urgency: str
    deadline: str | None
    rescreen_by: str | None
    accepted: bool = Field(description="True: casework opens or extends the child's case")
    receiving_agency: str | None = Field(
        default=None, description="Where the case opens (none unless accepted)"
    )
    receiving_unit: str | None = None
    version: int


class AmendmentOut(Out):
    report_id: str
    fields: list[str]
    version: int


class ReportSummaryOut(Out):
    report_id: str
    agency: str
    channel: str
    received_at: str
    commune: str
    concerns: list[str]
    status: str
    urgency: str
    deadline: str
    overdue: bool
    within_deadline: bool | None
    rescreen_by: str | None
    rescreen_overdue: bool
    immediate_danger: bool
    children_count: int
    version: int


class ReportOut(ReportSummaryOut):
    document: dict[str, Any] = Field(description="The report as it now reads, amendments applied")


class ReportPageOut(Out):
    items: list[ReportSummaryOut]
    page: int
    page_size: int
    total: int


class ChildOut(Out):
    child_id: str
    report_id: str | None
    case_id: str | None
    agency: str
    commune: str
    received_at: str
    details: dict[str, Any] = Field(description="The child as the record now reads")
    version: int


class FoundChildOut(ChildOut):
    score: float


class ChildSearchOut(Out):
    items: list[FoundChildOut]


class SuggestionStatusOut(Out):
    candidate_id: str
    score: float
    status: str
    reasons: list[str] = Field(default_factory=list)
    explanation: dict[str, Any] = Field(default_factory=dict)
    weights_id: str | None = None


class ChildRecordOut(ChildOut):
    suggested_duplicates: list[SuggestionStatusOut]
    linked: list[str]
    corrections: list[dict[str, Any]]
    refused_corrections: list[dict[str, Any]] = Field(
        description="Corrections a case worker sent that intake could not apply, and why"
    )


class ResolutionOut(Out):
    child_id: str
    candidate_id: str
    status: str
    version: int


class CorrectionOut(Out):
    child_id: str
    fields: list[str]
    version: int
    suggested_duplicates: list[SuggestionOut]


class ComplaintReceiptOut(Out):
    complaint_id: str
    version: int


class ComplaintStepOut(Out):
    complaint_id: str
    status: str
    version: int


class ComplaintOut(Out):
    model_config = ConfigDict(extra="allow")  # the complaint's document as filed and handled

    complaint_id: str
    status: str
    version: int


class ComplaintTrackOut(Out):
    """What a tracking code shows: the complaint's status and when each step happened."""

    status: str
    filed_at: str
    acknowledged_at: str | None = None
    resolved_at: str | None = None


class ComplaintPageOut(Out):
    items: list[ComplaintOut]
    page: int
    page_size: int
    total: int
    now: str
