"""Checks on what people type, shared by every service's request bodies: codes from the
reference data, dates that cannot be in the future, a child's date of birth, consent. Each
raises ``LocalisedValueError`` with a reason in French and English that never repeats the
value it refuses (a misplaced field may hold a child's name)."""

from __future__ import annotations

import types
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal, Self, Union, get_args, get_origin

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    FutureDate,
    ModelWrapValidatorHandler,
    NaiveDatetime,
    PastDate,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import ErrorDetails, InitErrorDetails, PydanticCustomError
from pydantic_core.core_schema import ErrorType

from shared.i18n import LocalisedValueError, Message
from shared.reference import check_code, codes, locations

CLOCK_SKEW = timedelta(minutes=5)  # a phone's clock a little ahead is not "the future"
# A calendar day is the person's local day: up to UTC+14 may already be "tomorrow" in UTC.
LOCAL_DAY_AHEAD = timedelta(hours=14)
FUTURE = Message(en="This date is in the future.", fr="Cette date est dans le futur.")


# -- JSON as written ---------------------------------------------------------------------------
# FastAPI validates a parsed JSON body in Python mode, where pydantic is lax: "5" becomes 5, 1
# becomes true, 0.5 becomes a date-time. A client that sends the wrong JSON type made a
# mistake, and a generated client would never learn the real type: bodies are taken as written.


def _numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _honest(annotation: Any, value: Any) -> str | None:
    """None if ``value`` (as parsed from JSON) has the JSON type ``annotation`` needs, else the
    pydantic error type to report. Nested models check their own fields."""
    if get_origin(annotation) is Annotated:
        return _honest(get_args(annotation)[0], value)
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        members = get_args(annotation)
        if value is None and type(None) in members:
            return None
        found = [_honest(m, value) for m in members if m is not type(None)]
        return None if any(f is None for f in found) else (found[0] if found else None)
    if origin in (list, set, frozenset, tuple) and isinstance(value, list):
        args = tuple(a for a in get_args(annotation) if a is not Ellipsis)
        if len(args) == 1:
            for item in value:
                problem = _honest(args[0], item)
                if problem is not None:
                    return problem
        return None
    if origin is dict and isinstance(value, dict):
        args = get_args(annotation)
        if len(args) == 2:
            for item in value.values():
                problem = _honest(args[1], item)
                if problem is not None:
                    return problem
        return None
    if annotation is bool:
        return None if isinstance(value, bool) else "bool_type"
    if annotation is int:
        # JSON Schema counts 2.0 as an integer; pydantic takes it as 2.
        whole = isinstance(value, float) and value.is_integer()
        ok = (isinstance(value, int) and not isinstance(value, bool)) or whole
        return None if ok else "int_type"
    if annotation is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return None if ok else "float_type"
    if annotation in (datetime, date, AwareDatetime, NaiveDatetime, PastDate, FutureDate):
        kind = "date_type" if annotation in (date, PastDate, FutureDate) else "datetime_type"
        if isinstance(value, date):  # built in Python (datetime is a date too)
            return None
        return None if isinstance(value, str) and not _numeric(value) else kind
    return None


class JsonBody(BaseModel):
    """The base of every request body: each field's value must have the JSON type its schema
    says (a string is not a number, a number is not a date-time, 1 is not true)."""

    @model_validator(mode="wrap")
    @classmethod
    def _as_written(cls, data: Any, handler: ModelWrapValidatorHandler[Self]) -> Self:
        if not isinstance(data, dict):
            return handler(data)
        problems: list[InitErrorDetails] = []
        for name, info in cls.model_fields.items():
            key = info.alias or name
            if key in data and info.annotation is not None:
                kind = _honest(info.annotation, data[key])
                if kind is not None:
                    problems.append(InitErrorDetails(type=kind, loc=(key,), input=data[key]))
        if not problems:
            return handler(data)
        # The other fields are still checked, so that every mistake is answered at once.
        refused = {problem["loc"][0] for problem in problems}
        try:
            handler({k: v for k, v in data.items() if k not in refused})
        except ValidationError as error:
            problems += [
                _again(e) for e in error.errors() if not e["loc"] or e["loc"][0] not in refused
            ]
        raise ValidationError.from_exception_data(cls.__name__, problems)


_BUILT_IN_ERRORS = frozenset(get_args(ErrorType))


def _again(error: ErrorDetails) -> InitErrorDetails:
    """An error pydantic reported, to be raised again beside others."""
    ctx = error.get("ctx")
    if error["type"] in _BUILT_IN_ERRORS:
        again = InitErrorDetails(type=error["type"], loc=error["loc"], input=error["input"])
        if ctx is not None:
            again["ctx"] = ctx
        return again
    custom = PydanticCustomError(
        error["type"], error["msg"].replace("{", "{{").replace("}", "}}"), ctx
    )
    return InitErrorDetails(type=custom, loc=error["loc"], input=error["input"])


def _not_a_number(value: Any) -> Any:
    if isinstance(value, int | float) or (isinstance(value, str) and _numeric(value)):
        raise PydanticCustomError("datetime_type", "Input should be a valid datetime")
    return value


# A date-time in a query string: ISO 8601 only, never a number of seconds ("0.5").
QueryMoment = Annotated[datetime, BeforeValidator(_not_a_number)]
QueryDay = Annotated[date, BeforeValidator(_not_a_number)]


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


def check_sex(value: str) -> str:
    return check_code(value, codes().sexes, "sex", "Sexe")


def check_concerns(values: list[str]) -> list[str]:
    for code in values:
        check_code(code, codes().concerns, "concern category", "Catégorie")
    return list(dict.fromkeys(values))


def check_vulnerabilities(values: list[str]) -> list[str]:
    for code in values:
        check_code(code, codes().vulnerabilities, "vulnerability factor", "Facteur")
    return sorted(set(values))


def not_future(moment: datetime) -> datetime:
    if moment > datetime.now(UTC) + CLOCK_SKEW:
        raise LocalisedValueError(FUTURE)
    return moment


def not_future_day(value: date) -> date:
    if value > (datetime.now(UTC) + LOCAL_DAY_AHEAD).date():
        raise LocalisedValueError(FUTURE)
    return value


def check_date_of_birth(value: date) -> date:
    not_future_day(value)
    today = datetime.now(UTC).date()
    if today.year - value.year - ((today.month, today.day) < (value.month, value.day)) > 17:
        raise LocalisedValueError(
            Message(
                en="This date of birth makes the person an adult (18 or over).",
                fr="Cette date de naissance fait de la personne un adulte (18 ans ou plus).",
            )
        )
    return value


def check_consent(
    given: bool, given_by: str | None, given_at: datetime | None, reason_not_sought: str | None
) -> None:
    """Consent to a referral: who gave it and when, or why it was not sought."""
    if given and (given_by is None or given_at is None):
        raise LocalisedValueError(
            Message(
                en="Say who gave consent (given_by) and when (given_at).",
                fr="Indiquez qui a donné son consentement (given_by) et quand (given_at).",
            )
        )
    if not given and not (reason_not_sought or "").strip():
        raise LocalisedValueError(
            Message(
                en="Without consent, say why it was not sought (reason_not_sought).",
                fr="Sans consentement, indiquez pourquoi il n'a pas été recherché "
                "(reason_not_sought).",
            )
        )
    if given_at is not None and given_at.tzinfo is None:
        raise LocalisedValueError(
            Message(
                en="given_at needs a time zone (e.g. 2026-03-01T14:30:00Z).",
                fr="given_at doit préciser le fuseau (p. ex. 2026-03-01T14:30:00Z).",
            )
        )


class ChildDescription(JsonBody):
    """What a person says of a child, wherever a child is first described (a report at intake,
    a child found by a worker in casework): each service adds how it takes the age."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    alias: str | None = Field(default=None, min_length=1, max_length=200)
    sex: str = "unknown"
    date_of_birth: date | None = None
    age_years: int | None = Field(default=None, ge=0, le=17)
    documented: bool | None = None
    school_status: Literal["enrolled", "out_of_school", "never_schooled", "unknown"] | None = None
    vulnerabilities: list[str] = Field(default_factory=list, max_length=20)
    whereabouts: str | None = Field(default=None, max_length=500)

    @field_validator("sex")
    @classmethod
    def _sex(cls, v: str) -> str:
        return check_sex(v)

    @field_validator("vulnerabilities")
    @classmethod
    def _vulnerabilities(cls, v: list[str]) -> list[str]:
        return check_vulnerabilities(v)

    @field_validator("date_of_birth")
    @classmethod
    def _born_a_child(cls, v: date | None) -> date | None:
        return v if v is None else check_date_of_birth(v)


ONE_AGE = Message(
    en="Give one of date_of_birth, age_years or age_range, not several.",
    fr="Donnez une seule des valeurs date_of_birth, age_years ou age_range.",
)
NOT_EMPTIED = Message(en="This field cannot be emptied.", fr="Ce champ ne peut être vidé.")


class AgeRange(JsonBody):
    """An estimated age: "between 12 and 14"."""

    model_config = ConfigDict(extra="forbid")

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


class ChildCorrection(JsonBody):
    """The fields of a child record a correction may set, whoever sends it: an intake officer,
    or a case worker through casework (intake applies both with these same rules, so a worker
    hears a refusal at once rather than never). A field left out stays as it is; null empties
    it, except the sex (say "unknown") and the vulnerabilities (send [])."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str | None = Field(default=None, min_length=1, max_length=200)
    alias: str | None = Field(default=None, min_length=1, max_length=200)
    # null is refused for these two (see below): the schema does not offer it.
    sex: SkipJsonSchema[None] | str = None
    date_of_birth: date | None = None
    age_years: int | None = Field(default=None, ge=0, le=17)
    age_range: AgeRange | None = None
    documented: bool | None = None
    school_status: Literal["enrolled", "out_of_school", "never_schooled", "unknown"] | None = None
    vulnerabilities: SkipJsonSchema[None] | Annotated[list[str], Field(max_length=20)] = None
    whereabouts: str | None = Field(default=None, max_length=500)

    # Validators do not run on defaults, so a None seen here was sent as null.
    @field_validator("sex")
    @classmethod
    def _sex(cls, v: str | None) -> str:
        if v is None:
            raise LocalisedValueError(NOT_EMPTIED)
        return check_sex(v)

    @field_validator("vulnerabilities")
    @classmethod
    def _vulnerabilities(cls, v: list[str] | None) -> list[str]:
        if v is None:
            raise LocalisedValueError(NOT_EMPTIED)
        return check_vulnerabilities(v)

    @field_validator("date_of_birth")
    @classmethod
    def _born_a_child(cls, v: date | None) -> date | None:
        return v if v is None else check_date_of_birth(v)

    @model_validator(mode="after")
    def _one_age(self) -> Self:
        # Any age field given replaces the whole age, so two of them contradict each other.
        if len({"date_of_birth", "age_years", "age_range"} & self.model_fields_set) > 1:
            raise LocalisedValueError(ONE_AGE)
        return self

    def sent(self) -> dict[str, Any]:
        """The fields sent, as JSON."""
        return self.model_dump(mode="json", exclude_unset=True)
