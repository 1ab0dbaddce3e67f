"""Request bodies: every field checked against the reference codes, with reasons in French
and English. A body that fails here writes nothing."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from services.intake.domain import CorrectableChildIn
from shared.i18n import LocalisedValueError, Message
from shared.validation import (
    ONE_AGE,
    AgeRange,
    ChildDescription,
    check_channel,
    check_commune,
    check_concerns,
    check_urgency,
    not_future,
)

NARRATIVE_MAX = 20_000  # a long call transcribed; a 5 MB body is refused, not stored
TEXT_MAX = 2_000
SCHOOL_STATUSES = ("enrolled", "out_of_school", "never_schooled", "unknown")


class Strict(BaseModel):
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
    version: int | None = Field(default=None, ge=1, description="The version you screened")
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
    version: int | None = Field(default=None, ge=1)


class ResolutionIn(Strict):
    note: str | None = Field(default=None, max_length=TEXT_MAX)
    version: int | None = Field(default=None, ge=1)


class ComplaintIn(Strict):
    about_user: str = Field(min_length=1, max_length=200)
    about_agency: str = Field(min_length=1, max_length=200)
    child_id: str | None = Field(default=None, max_length=64)
    complainant: Literal["child", "family", "other", "anonymous"]
    account: str = Field(min_length=3, max_length=NARRATIVE_MAX)


class CorrectionIn(Strict):
    changes: CorrectableChildIn
    reason: str = Field(min_length=3, max_length=TEXT_MAX)
    version: int | None = Field(default=None, ge=1, description="The version you corrected")


class AcknowledgementIn(Strict):
    note: str | None = Field(default=None, max_length=TEXT_MAX)
    version: int | None = Field(default=None, ge=1)


class ComplaintOutcomeIn(Strict):
    upheld: bool
    outcome: str = Field(min_length=3, max_length=NARRATIVE_MAX)
    version: int | None = Field(default=None, ge=1)
