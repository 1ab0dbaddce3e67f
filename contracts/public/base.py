"""How a public event type is declared, and the only kinds of value it may carry.

An internal event reaches integrators only through a public model registered with
:func:`public_event`: a pydantic model whose every field is a pseudonym, a code from a closed
vocabulary (anything else becomes ``other`` or ``unknown``), a day, a number or a flag. A
field of any other type (a plain ``str`` above all) is refused when the class is defined, so
free text cannot be published by mistake: a new field is private until someone gives it a
public shape here.

Pseudonyms are keyed hashes (HMAC-SHA256, one key per integrator) of an internal id and its
kind: stable for one integrator, unlinkable across integrators and to the internal ids."""

from __future__ import annotations

import base64
import hashlib
import hmac
import types
import typing
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from typing import Annotated, Any, ClassVar, Literal, TypeVar, get_args, get_origin

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    create_model,
)
from pydantic.fields import FieldInfo
from pydantic_core import core_schema

from shared import channels as asyncapi_channels
from shared.events import DomainEvent
from shared.reference import codes, locations

PUBLIC_TYPE_PREFIX = "org.relais.public"

PseudonymKind = Literal[
    "event",
    "child",
    "case",
    "report",
    "referral",
    "agency",
    "unit",
    "session",
    "assessment",
    "determination",
    "goal",
    "action",
    "service",
    "visit",
    "transfer",
    "hold",
]
PSEUDONYM_PATTERN = r"^[a-z]+_[a-z2-7]{26}$"

# The pseudonym kind of each aggregate type whose events may be published (its id becomes
# the public envelope's subject). Aggregates about people (staff) or complaints are absent.
AGGREGATE_KINDS: dict[str, PseudonymKind] = {
    "report": "report",
    "child": "child",
    "case": "case",
    "referral": "referral",
    "agency": "agency",
    "unit": "unit",
    "capacity": "unit",  # a unit's capacity lives under the unit's id
    "training": "session",
}


@dataclass(frozen=True)
class _Safe:
    """Marks the only string types a public model may declare."""

    what: Literal["pseudonym"]


Pseudonym = Annotated[
    str,
    Field(pattern=PSEUDONYM_PATTERN, description="Keyed pseudonym: <kind>_<26 base32 chars>"),
    _Safe("pseudonym"),
]


@dataclass(frozen=True)
class Code:
    """A string from a closed vocabulary (``Annotated[str, Code(...)]``): any other value, a
    typo or a name typed into the wrong field, is published as ``fallback``."""

    vocabulary: Callable[[], Collection[str]]
    fallback: str
    description: str

    def coerce(self, value: object) -> str:
        return value if isinstance(value, str) and value in self.vocabulary() else self.fallback

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_before_validator_function(self.coerce, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> dict[str, Any]:
        values = sorted({*self.vocabulary(), self.fallback})
        return {"type": "string", "enum": values, "description": self.description}


def fixed(*values: str) -> Callable[[], Collection[str]]:
    return lambda: values


def _departments() -> Collection[str]:
    return {a.code for a in locations().at_level(0)}


def _communes() -> Collection[str]:
    return {a.code for a in locations().at_level(1)}


UNKNOWN = "unknown"
Concern = Annotated[str, Code(lambda: codes().concerns, "other", "Concern code")]
ServiceKind = Annotated[str, Code(lambda: codes().service_kinds, "other", "Service kind code")]
Channel = Annotated[str, Code(lambda: codes().channels, "other", "Reporting channel code")]
Urgency = Annotated[str, Code(lambda: codes().urgencies, UNKNOWN, "emergency, high or normal")]
ClosureReason = Annotated[
    str, Code(lambda: codes().closure_reasons, "other", "Closure reason code")
]
Sex = Annotated[
    str, Code(fixed("female", "male", UNKNOWN), "other", "female, male, unknown, other")
]
AgeBand = Annotated[
    str,
    Code(lambda: [b for b, _, _ in codes().age_bands], UNKNOWN, "0-4, 5-9, 10-14, 15-17, unknown"),
]
Department = Annotated[
    str, Code(_departments, UNKNOWN, "Location code of a department (top level)")
]
Commune = Annotated[str, Code(_communes, UNKNOWN, "Location code of a commune (second level)")]
RiskLevel = Annotated[str, Code(fixed("low", "medium", "high"), UNKNOWN, "low, medium or high")]
AgencyType = Annotated[
    str,
    Code(
        fixed("government", "police", "gendarmerie", "justice", "health", "ngo", "international"),
        "other",
        "Kind of agency",
    ),
]


class PublicData(BaseModel):
    """The data of a public event, or a part of it."""

    model_config = ConfigDict(extra="forbid", frozen=True)


P = TypeVar("P", bound="PublicEvent")


class PublicEvent(PublicData):
    """A public event type. ``source`` is the internal event type it is made from; each
    subclass defines ``of(event, publication)``, the mapping."""

    source: ClassVar[type[DomainEvent]]
    version: ClassVar[int]
    description: ClassVar[dict[str, str]]

    @classmethod
    def of(cls, event: Any, c: Publication) -> PublicEvent:
        raise NotImplementedError(f"{cls.__name__} defines no mapping")

    @classmethod
    def type_name(cls) -> str:
        return f"{PUBLIC_TYPE_PREFIX}.{cls.source.context}.{cls.source.name}.v{cls.version}"


@dataclass(frozen=True)
class Pseudonyms:
    """One integrator's pseudonyms."""

    key: bytes

    def of(self, kind: PseudonymKind, internal_id: str) -> str:
        digest = hmac.new(self.key, f"{kind}\x1f{internal_id}".encode(), hashlib.sha256)
        text = base64.b32encode(digest.digest()[:16]).decode().rstrip("=").lower()
        return f"{kind}_{text}"


@dataclass(frozen=True)
class Publication:
    """What a mapping may use besides the event: the integrator's pseudonyms and the
    country's time zone (days are the country's days)."""

    pseudonyms: Pseudonyms
    zone: tzinfo = UTC

    def p(self, kind: PseudonymKind, internal_id: str) -> str:
        return self.pseudonyms.of(kind, internal_id)

    def maybe(self, kind: PseudonymKind, internal_id: str | None) -> str | None:
        return None if internal_id is None else self.pseudonyms.of(kind, internal_id)

    def day(self, text: str | None) -> date | None:
        """The day of an RFC 3339 instant (in the country's time zone) or of a YYYY-MM-DD
        date; None if it cannot be read."""
        if not text:
            return None
        try:
            if len(text) == 10:
                return date.fromisoformat(text)
            moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(self.zone).date()

    @staticmethod
    def department(commune: str | None) -> str:
        """The department of a location code (the code itself for a department)."""
        try:
            return locations().top_level_of(commune) if commune else UNKNOWN
        except KeyError:
            return UNKNOWN


class PublicRegistry:
    def __init__(self) -> None:
        self._views: dict[type[DomainEvent], type[PublicEvent]] = {}

    def register(self, model: type[PublicEvent]) -> None:
        if model.of.__func__ is PublicEvent.of.__func__:  # type: ignore[attr-defined]
            raise TypeError(f"{model.__name__} defines no mapping (classmethod of)")
        if model.source in self._views:
            raise ValueError(f"{model.source.__name__} has two public models")
        if model.source.aggregate not in AGGREGATE_KINDS:
            raise TypeError(
                f"{model.__name__}: events of aggregate {model.source.aggregate!r} are never "
                "published (no pseudonym kind for its id)"
            )
        check_safe(model)
        self._views[model.source] = model

    def view(self, source: type[DomainEvent]) -> type[PublicEvent] | None:
        return self._views.get(source)

    def all(self) -> list[type[PublicEvent]]:
        return sorted(self._views.values(), key=lambda m: (m.source.context, m.source.name))


public_registry = PublicRegistry()


def public_event(
    source: type[DomainEvent],
    *,
    version: int = 1,
    en: str | None = None,
    fr: str | None = None,
) -> Callable[[type[P]], type[P]]:
    """Class decorator: ``source`` events are published in this shape, made by the class's
    ``of``. The description defaults to the internal event's."""

    def wrap(cls: type[P]) -> type[P]:
        cls.source = source
        cls.version = version
        cls.description = {
            "en": en or source.description["en"],
            "fr": fr or source.description["fr"],
        }
        public_registry.register(cls)
        asyncapi_channels.channels.register(
            asyncapi_channels.Channel(
                title=f"public.{source.context}.{source.name}",
                address=subject_pattern(cls),
                schema=envelope_model(cls),
                description=(
                    f"{cls.description['en']} / {cls.description['fr']} (type "
                    f"{cls.type_name()}, stream PUBLIC, subject public.<integrator>.<site>."
                    f"{source.context}.{source.name}; the integrators' de-identified feed)"
                ),
            )
        )
        return cls

    return wrap


def subject_pattern(model: type[PublicEvent]) -> str:
    """Where integrators' copies of ``model`` are: public.<integrator>.<site>.<context>.<Name>."""
    return f"public.*.*.{model.source.context}.{model.source.name}"


def envelope_model(model: type[PublicEvent]) -> type[BaseModel]:
    return create_model(
        f"public.{model.source.context}.{model.source.name}.v{model.version}",
        __base__=PublicEnvelope,
        type=(Literal[model.type_name()], ...),  # type: ignore[arg-type]
        data=(model, ...),
    )


# -- the structural check ------------------------------------------------------------------

_SCALARS: tuple[type, ...] = (bool, int, float, date)


def check_safe(model: type[BaseModel], where: str = "") -> None:
    """Refuse a model with a field that could carry free text."""
    for name, info in model.model_fields.items():
        _check_annotation(_annotation(info), f"{where or model.__name__}.{name}")


def _annotation(info: FieldInfo) -> Any:
    if info.metadata:  # pydantic moves Annotated metadata here; put it back for the check
        return Annotated[(info.annotation, *info.metadata)]
    return info.annotation


def _check_annotation(annotation: Any, where: str) -> None:
    origin = get_origin(annotation)
    if origin is Annotated:
        base, *metadata = get_args(annotation)
        if base is str:
            if not any(isinstance(m, _Safe | Code) for m in metadata):
                raise TypeError(f"{where}: free text may not be published")
            return
        _check_annotation(base, where)
        return
    if annotation is type(None) or annotation in _SCALARS:
        return
    if annotation is str:
        raise TypeError(f"{where}: free text may not be published (use a code or a pseudonym)")
    if origin is Literal:
        return
    if origin in (list, tuple, frozenset, set):
        for arg in get_args(annotation):
            if arg is not Ellipsis:
                _check_annotation(arg, where)
        return
    if origin in (typing.Union, types.UnionType):
        for arg in get_args(annotation):
            _check_annotation(arg, where)
        return
    if isinstance(annotation, type) and issubclass(annotation, PublicData):
        check_safe(annotation, where)
        return
    raise TypeError(f"{where}: {annotation!r} is not a publishable type")


class PublicEnvelope(BaseModel):
    """CloudEvents 1.0 structured JSON, as integrators receive it: nothing internal (no actor,
    signature, hash or correlation), ids as the integrator's pseudonyms, the day not the
    time."""

    specversion: Literal["1.0"]
    id: str = Field(description="The event's pseudonym: stable, the webhook-id of a delivery")
    source: str = Field(description="/relais/<site>/<context>")
    type: str = Field(description="org.relais.public.<context>.<EventName>.v<version>")
    subject: str = Field(description="The aggregate's pseudonym (a case, a report, a unit...)")
    datacontenttype: Literal["application/json"]
    aggregatetype: str = Field(description="case, report, child, referral, agency, unit...")
    day: date | None = Field(description="The day it happened, in the country's time zone")
