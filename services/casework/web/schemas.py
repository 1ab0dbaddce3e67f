"""Request bodies of the follow-up routes (direct opening, services, visits, notes, transfers,
referral requests, corrections of the child's details): every field checked against the
reference codes, with reasons in French and English. No reason repeats the value it refuses:
a misplaced field may hold a name."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal, Self

from pydantic import AwareDatetime, ConfigDict, Field, field_validator, model_validator

from contracts.casework import IdentifiedChild, RequestedConsent
from contracts.referral import SHAREABLE, Shareable
from shared.i18n import LocalisedValueError, Message
from shared.validation import (
    ChildCorrection,
    ChildDescription,
    JsonBody,
    check_commune,
    check_concerns,
    check_consent,
    check_urgency,
    not_future,
    not_future_day,
)

ID_PATTERN = r"^[A-Za-z0-9-]{1,64}$"

Short = Annotated[str, Field(min_length=1, max_length=200)]
Reason = Annotated[str, Field(min_length=1, max_length=2000)]


class Body(JsonBody):
    model_config = ConfigDict(extra="forbid")


class ChildBody(Body, ChildDescription):
    """The child as the worker describes them: the fields of ``IdentifiedChild``."""

    age_min: int | None = Field(default=None, ge=0, le=17)
    age_max: int | None = Field(default=None, ge=0, le=17)

    @model_validator(mode="after")
    def _one_age(self) -> Self:
        ranged = self.age_min is not None or self.age_max is not None
        if ranged and (self.age_min is None or self.age_max is None):
            raise LocalisedValueError(
                Message(
                    en="An age range needs both age_min and age_max.",
                    fr="Une tranche d'âge exige age_min et age_max.",
                )
            )
        if self.age_min is not None and self.age_max is not None and self.age_min > self.age_max:
            raise LocalisedValueError(
                Message(
                    en="The lower age is above the upper age.",
                    fr="L'âge minimal dépasse l'âge maximal.",
                )
            )
        if sum(x is not None for x in (self.date_of_birth, self.age_years, self.age_min)) > 1:
            raise LocalisedValueError(
                Message(
                    en="Give one of date_of_birth, age_years or age_min/age_max, not several.",
                    fr="Donnez une seule des valeurs date_of_birth, age_years ou age_min/age_max.",
                )
            )
        return self

    def identified(self) -> IdentifiedChild:
        data = self.model_dump()
        data["date_of_birth"] = self.date_of_birth.isoformat() if self.date_of_birth else None
        return IdentifiedChild(**data)


class OpenBody(Body):
    child: ChildBody
    concerns: list[str] = Field(min_length=1, max_length=20)
    urgency: str
    commune: str = Field(description="A commune code, or 'unknown'")
    found_at: AwareDatetime = Field(description="When the worker found the child")
    initial_risk: Literal["low", "medium", "high"] | None = Field(
        default=None, description="Default: high in danger or emergency, else from urgency"
    )
    unit: str | None = Field(default=None, min_length=1, max_length=200)
    immediate_danger: bool = False

    @field_validator("concerns")
    @classmethod
    def _concerns(cls, v: list[str]) -> list[str]:
        return check_concerns(v)

    @field_validator("urgency")
    @classmethod
    def _urgency(cls, v: str) -> str:
        return check_urgency(v)

    @field_validator("commune")
    @classmethod
    def _commune(cls, v: str) -> str:
        return check_commune(v)

    @field_validator("found_at")
    @classmethod
    def _found(cls, v: datetime) -> datetime:
        return not_future(v).astimezone(UTC)


class ServiceBody(Body):
    service_kind: Short
    delivered_on: date
    action_id: str | None = Field(default=None, pattern=ID_PATTERN)
    referral_id: str | None = Field(default=None, pattern=ID_PATTERN)
    note: str | None = Field(default=None, max_length=5000)

    @field_validator("delivered_on")
    @classmethod
    def _day(cls, v: date) -> date:
        return not_future_day(v)


class VisitBody(Body):
    visited_on: date
    child_seen: bool
    risk_level: Literal["low", "medium", "high"] | None = None
    findings: str | None = Field(default=None, max_length=5000)
    next_visit_due: date | None = None

    @field_validator("visited_on")
    @classmethod
    def _day(cls, v: date) -> date:
        return not_future_day(v)


class NoteBody(Body):
    sensitivity: Literal["normal", "restricted", "confidential"]
    text: str = Field(min_length=1, max_length=20000)


class TransferBody(Body):
    to_agency: Short
    to_unit: str | None = Field(default=None, min_length=1, max_length=200)
    reason: Reason


class SiteTransferBody(Body):
    to_site: str = Field(
        pattern=r"^[a-z][a-z0-9_]{0,31}$", description="The site that takes the case over"
    )
    reason: Reason


class AcceptTransferBody(Body):
    pass


class ReasonBody(Body):
    reason: Reason


class ConsentBody(Body):
    given: bool
    given_by: Literal["child", "guardian", "both", "court"] | None = None
    given_at: AwareDatetime | None = None
    reason_not_sought: str | None = Field(default=None, max_length=1000)

    @model_validator(mode="after")
    def _complete(self) -> Self:
        # The rule referral applies: refused here, the worker learns it at once.
        check_consent(self.given, self.given_by, self.given_at, self.reason_not_sought)
        return self

    def consent(self) -> RequestedConsent:
        at = (
            self.given_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
            if self.given_at
            else None
        )
        return RequestedConsent(
            given=self.given,
            given_by=self.given_by,
            given_at=at,
            reason_not_sought=self.reason_not_sought,
        )


class ReferralRequestBody(Body):
    to_unit: Short
    urgency: str
    reason: Reason
    consent: ConsentBody
    shared_fields: list[Shareable] = Field(max_length=len(SHAREABLE))

    @field_validator("urgency")
    @classmethod
    def _urgency(cls, v: str) -> str:
        return check_urgency(v)


# -- corrected details of the child, for intake ----------------------------------------------


class ChildChangesBody(ChildCorrection):
    """The corrected fields of the child: intake's own correction rules (``ChildCorrection``),
    so what casework accepts, intake applies."""

    def changes(self) -> dict[str, Any]:
        """The fields sent, as JSON: what the request event carries to intake."""
        return self.sent()


class ChildCorrectionBody(Body):
    changes: ChildChangesBody
    reason: str = Field(min_length=3, max_length=1000)
