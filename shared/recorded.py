"""An event as read back from the log: its envelope, its position and its decoded data."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import orjson

from shared.envelope import Actor, Aggregate, sha256_hex
from shared.events import DomainEvent, EventRegistry, registry

REQUIRED_ATTRIBUTES = (
    "specversion",
    "id",
    "source",
    "type",
    "subject",
    "time",
    "data",
    "aggregatetype",
    "aggregateversion",
    "prevhash",
)

_REQUIRED = frozenset(REQUIRED_ATTRIBUTES)


class PoisonEvent(ValueError):
    """A stored message that cannot be read as a Relais event."""


@dataclass(frozen=True)
class Position:
    stream: str
    seq: int


@dataclass(frozen=True)
class RecordedEvent:
    position: Position
    subject: str
    raw: bytes
    envelope: dict[str, Any]
    event: DomainEvent

    @property
    def id(self) -> str:
        return str(self.envelope["id"])

    @property
    def seq(self) -> int:
        return self.position.seq

    @property
    def type(self) -> str:
        return str(self.envelope["type"])

    @property
    def aggregate(self) -> Aggregate:
        return Aggregate.from_subject(self.subject)

    @property
    def aggregate_version(self) -> int:
        return int(self.envelope["aggregateversion"])

    @property
    def time(self) -> str:
        return str(self.envelope["time"])

    @property
    def hash(self) -> str:
        return sha256_hex(self.raw)

    @property
    def actor(self) -> Actor:
        return Actor(
            user=str(self.envelope.get("actor", "?")),
            agency=str(self.envelope.get("actoragency", "?")),
            role=str(self.envelope.get("actorrole", "?")),
        )


def parse_envelope(raw: bytes) -> dict[str, Any]:
    try:
        envelope = orjson.loads(raw)
    except orjson.JSONDecodeError:
        # What orjson refuses and the standard library reads (integers beyond 64 bits, NaN)
        # is read as it always was: the faster parser changes no event's fate.
        try:
            envelope = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise PoisonEvent(f"not JSON: {exc}") from None
    if not isinstance(envelope, dict):
        raise PoisonEvent("envelope is not a JSON object")
    if not envelope.keys() >= _REQUIRED:
        missing = [a for a in REQUIRED_ATTRIBUTES if a not in envelope]
        raise PoisonEvent(f"envelope lacks {', '.join(missing)}")
    if envelope["specversion"] != "1.0":
        raise PoisonEvent(f"unsupported CloudEvents version {envelope['specversion']!r}")
    if not isinstance(envelope["data"], dict):
        raise PoisonEvent("data is not a JSON object")
    return envelope


def decode(
    raw: bytes, *, stream: str, seq: int, subject: str, reg: EventRegistry = registry
) -> RecordedEvent:
    """Read a stored message; raises :class:`PoisonEvent` with the reason if it is not valid."""
    envelope = parse_envelope(raw)
    try:
        event = reg.decode(str(envelope["type"]), envelope["data"])
    except ValueError as exc:  # pydantic's ValidationError and UnknownEventType are ValueErrors
        raise PoisonEvent(_short(exc)) from None
    return RecordedEvent(Position(stream, seq), subject, raw, envelope, event)


def _short(exc: Exception) -> str:
    # pydantic errors echo input values, which may be a child's data: keep locations and types.
    errors = getattr(exc, "errors", None)
    if callable(errors):
        parts = [f"{'.'.join(str(p) for p in e['loc'])}: {e['type']}" for e in errors()]
        return f"invalid data ({'; '.join(parts)})"
    return str(exc)
