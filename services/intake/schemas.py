"""Request bodies: every field checked against the reference codes, with reasons in French
and English. A body that fails here writes nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Literal, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.i18n import LocalisedValueError, Message
from shared.reference import check_code, codes, locations

NARRATIVE_MAX = 20_000  # a long call transcribed; a 5 MB body is refused, not stored
TEXT_MAX = 2_000
CLOCK_SKEW = timedelta(minutes=5)  # a phone's clock a little ahead is not "the future"
SCHOOL_STATUSES = ("enrolled", "out_of_school", "never_schooled", "unknown")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def check_commune(value: str) -> str:
    area = locations().areas.get(value)
    if value != "unknown" and (area is None or area.level != 1):
        raise LocalisedValueError(
            Message(
                en="Unknown commune: give a commune code (e.g. bj-littoral-cotonou) or 'unknown'.",
                fr="Commune inconnue : donnez un code de commune (p. ex. bj-littoral-cotonou) "
                "ou « unknown ».",
            )
        )
    return value


def check_channel(value: str) -> str:
    return check_code(value, codes().channels, "channel", "Canal")


def check_urgency(value: str) -> str:
    return check_code(value, codes().urgencies, "urgency", "Urgence")


def check_concerns(values: list[str]) -> list[str]:
    for code in values:
        check_code(code, codes().concerns, "concern category", "Catégorie")
    return list(dict.fromkeys(values))


def not_future(moment: datetime) -> datetime:
    if moment > datetime.now(UTC) + CLOCK_SKEW:
        raise LocalisedValueError(
            Message(en="This date is in the future.", fr="Cette date est dans le futur.")
        )
    return moment


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


class AgeRange(Strict):
    min: int = Field(ge=0, le=17)
    max: int = Field(ge=0, le=17)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.min > self.max:
            raise LocalisedValueError(
                Message(
                    en="The lower age is above the upper age.",
                    fr="L'âge minimal dépasse l'âge maximal.",
                )
            )
        return self


class ChildIn(Strict):
    unidentified: bool = False
    name: str | None = Field(default=None, min_length=1, max_length=200)
    alias: str | None = Field(default=None, min_length=1, max_length=200)
    sex: str = "unknown"
    date_of_birth: date | None = None
    age_years: int | None = Field(default=None, ge=0, le=17)
    age_range: AgeRange | None = None
    documented: bool | None = None
    school_status: Literal["enrolled", "out_of_school", "never_schooled", "unknown"] | None = None
    vulnerabilities: list[str] = Field(default_factory=list, max_length=20)
    whereabouts: str | None = Field(default=None, max_length=500)

    @field_validator("sex")
    @classmethod
    def _sex(cls, v: str) -> str:
        return check_code(v, codes().sexes, "sex", "Sexe")

    @field_validator("vulnerabilities")
    @classmethod
    def _vulnerabilities(cls, v: list[str]) -> list[str]:
        for code in v:
            check_code(code, codes().vulnerabilities, "vulnerability factor", "Facteur")
        return sorted(set(v))

    @field_validator("date_of_birth")
    @classmethod
    def _born_a_child(cls, v: date | None) -> date | None:
        if v is None:
            return v
        today = datetime.now(UTC).date()
        if v > today:
            raise LocalisedValueError(
                Message(en="This date is in the future.", fr="Cette date est dans le futur.")
            )
        if today.year - v.year - ((today.month, today.day) < (v.month, v.day)) > 17:
            raise LocalisedValueError(
                Message(
                    en="This date of birth makes the person an adult (18 or over).",
                    fr="Cette date de naissance fait de la personne un adulte (18 ans ou plus).",
                )
            )
        return v

    @model_validator(mode="after")
    def _one_age(self) -> Self:
        given = [x for x in (self.date_of_birth, self.age_years, self.age_range) if x is not None]
        if len(given) > 1:
            raise LocalisedValueError(
                Message(
                    en="Give one of date_of_birth, age_years or age_range, not several.",
                    fr="Donnez une seule des valeurs date_of_birth, age_years ou age_range.",
                )
            )
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
