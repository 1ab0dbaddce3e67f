"""Request bodies of the referral routes: every rule a person can break, with the field and a
reason in French and English."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field, field_validator, model_validator

from services.referral.events import SHAREABLE, Shareable
from services.referral.web import ID_PATTERN, Body
from shared.i18n import LocalisedValueError, Message
from shared.reference import check_code, codes
from shared.validation import check_consent


class ConsentBody(Body):
    given: bool
    given_by: Literal["child", "guardian", "both", "court"] | None = None
    given_at: datetime | None = None
    reason_not_sought: str | None = Field(default=None, max_length=1000)

    @model_validator(mode="after")
    def _complete(self) -> ConsentBody:
        check_consent(self.given, self.given_by, self.given_at, self.reason_not_sought)
        return self


class DetailsBody(Body):
    child_age_band: str | None = None
    child_sex: str | None = None
    concerns: list[str] | None = Field(default=None, max_length=20)
    contact: str | None = Field(default=None, max_length=500)

    @field_validator("child_age_band")
    @classmethod
    def _band(cls, value: str | None) -> str | None:
        bands = {b[0]: b for b in codes().age_bands} | {"unknown": ()}
        return None if value is None else check_code(value, bands, "age band", "Tranche d'âge")

    @field_validator("child_sex")
    @classmethod
    def _sex(cls, value: str | None) -> str | None:
        return None if value is None else check_code(value, codes().sexes, "sex", "Sexe")

    @field_validator("concerns")
    @classmethod
    def _concerns(cls, value: list[str] | None) -> list[str] | None:
        for concern in value or []:
            check_code(concern, codes().concerns, "concern", "Problématique")
        return value


class ReferBody(Body):
    case_id: str = Field(pattern=ID_PATTERN)
    child_id: str = Field(pattern=ID_PATTERN)
    from_unit: str | None = None
    to_unit: str
    service_kind: str
    urgency: str
    reason: str = Field(min_length=1, max_length=2000)
    consent: ConsentBody
    shared_fields: list[Shareable] = Field(max_length=len(SHAREABLE))
    details: DetailsBody = Field(default_factory=DetailsBody)

    @field_validator("service_kind")
    @classmethod
    def _kind(cls, value: str) -> str:
        return check_code(value, codes().service_kinds, "service kind", "Type de service")

    @field_validator("urgency")
    @classmethod
    def _urgency(cls, value: str) -> str:
        return check_code(value, codes().urgency_hours, "urgency", "Urgence")

    @model_validator(mode="after")
    def _only_shared_details(self) -> ReferBody:
        given = self.details.model_dump(exclude_none=True)
        hidden = sorted(set(given) - set(self.shared_fields))
        if hidden:
            raise LocalisedValueError(
                Message(
                    en=f"Details given but not shared: {', '.join(hidden)}. Add them to "
                    "shared_fields or leave them out.",
                    fr=f"Détails fournis mais non partagés : {', '.join(hidden)}. Ajoutez-les à "
                    "shared_fields ou retirez-les.",
                )
            )
        return self


class AcceptBody(Body):
    capacity_override_reason: str | None = Field(default=None, max_length=1000)


class DeclineBody(Body):
    reason: str = Field(min_length=1, max_length=2000)
    suggested_unit: str | None = None


class CompleteBody(Body):
    outcome: str = Field(min_length=1, max_length=2000)


class WithdrawBody(Body):
    reason: str = Field(min_length=1, max_length=2000)
