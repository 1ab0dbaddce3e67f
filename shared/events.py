"""Domain events: the base model every event type extends, and the registry that maps a
CloudEvents ``type`` (context, name, version) to its pydantic model, upcasting old versions."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict

from shared.audit_state import Rule

TYPE_PREFIX = "org.relais"
_TYPE_RE = re.compile(r"^org\.relais\.([a-z]+)\.([A-Z][A-Za-z0-9]*)\.v([1-9][0-9]*)$")

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


class DomainEvent(BaseModel):
    """The data of one event. Subclasses are registered with :func:`event_type`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    context: ClassVar[str]
    name: ClassVar[str]
    version: ClassVar[int]
    aggregate: ClassVar[str]
    description: ClassVar[dict[str, str]]
    # Fields that identify a child or narrate harm: never copied to logs, traces or metrics.
    # (The integrators' feed does not rely on this list: it publishes only what a public
    # model in contracts/public declares.)
    sensitive_fields: ClassVar[frozenset[str]] = frozenset()
    # What the event does to its aggregate's state as an auditor reads it (a fold, see
    # shared/audit_state.py; the contracts declare theirs in contracts/audit_states.py);
    # None: not declared, so the auditor's state lists the event as not folded.
    audit_state: ClassVar[tuple[Rule, ...] | None] = None

    @classmethod
    def type_name(cls) -> str:
        return f"{TYPE_PREFIX}.{cls.context}.{cls.name}.v{cls.version}"


@dataclass(frozen=True)
class EventTypeRef:
    context: str
    name: str
    version: int

    @classmethod
    @functools.lru_cache(maxsize=1024)  # a handful of types, read for every event
    def parse(cls, type_name: str) -> EventTypeRef:
        match = _TYPE_RE.match(type_name)
        if match is None:
            raise UnknownEventType(f"not a Relais event type: {type_name!r}")
        return cls(match.group(1), match.group(2), int(match.group(3)))


class UnknownEventType(ValueError):
    pass


E = TypeVar("E", bound=type[DomainEvent])


class EventRegistry:
    """Current model per (context, name); upcasters from each older version to the next."""

    def __init__(self) -> None:
        self._models: dict[tuple[str, str], type[DomainEvent]] = {}
        self._upcasters: dict[tuple[str, str, int], Upcaster] = {}

    def register(self, model: type[DomainEvent]) -> None:
        key = (model.context, model.name)
        existing = self._models.get(key)
        if existing is not None and existing is not model:
            raise ValueError(f"event type {key} registered twice")
        for lang in ("en", "fr"):
            if not model.description.get(lang):
                raise ValueError(f"{model.__name__} needs a description in {lang}")
        self._models[key] = model

    def add_upcaster(self, context: str, name: str, from_version: int, fn: Upcaster) -> None:
        self._upcasters[(context, name, from_version)] = fn

    def model_for(self, context: str, name: str) -> type[DomainEvent]:
        try:
            return self._models[(context, name)]
        except KeyError:
            raise UnknownEventType(f"unknown event type {context}.{name}") from None

    def decode(self, type_name: str, data: dict[str, Any]) -> DomainEvent:
        """Validate ``data`` as the current model, upcasting it first if it is an older version."""
        ref = EventTypeRef.parse(type_name)
        model = self.model_for(ref.context, ref.name)
        if ref.version > model.version:
            raise UnknownEventType(f"{type_name} is newer than this software ({model.version})")
        for version in range(ref.version, model.version):
            upcast = self._upcasters.get((ref.context, ref.name, version))
            if upcast is None:
                raise UnknownEventType(f"no upcaster for {ref.context}.{ref.name} v{version}")
            data = upcast(dict(data))
        return model.model_validate(data)

    def all(self) -> list[type[DomainEvent]]:
        return sorted(self._models.values(), key=lambda m: (m.context, m.name))


registry = EventRegistry()


def event_type(
    *, context: str, aggregate: str, version: int = 1, en: str, fr: str
) -> Callable[[E], E]:
    """Class decorator: name, version, describe and register an event model."""

    def wrap(cls: E) -> E:
        cls.context = context
        cls.name = cls.__name__
        cls.version = version
        cls.aggregate = aggregate
        cls.description = {"en": en, "fr": fr}
        registry.register(cls)
        return cls

    return wrap


def upcaster(context: str, name: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
    """Decorator: register ``fn`` to turn version ``from_version`` data into the next version."""

    def wrap(fn: Upcaster) -> Upcaster:
        registry.add_upcaster(context, name, from_version, fn)
        return fn

    return wrap
