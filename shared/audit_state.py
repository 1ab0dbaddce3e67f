"""The auditor's state of an aggregate: a fold of its events, each event type declaring what
it does to the state (``DomainEvent.audit_state``; the contracts' events declare theirs in
``contracts/audit_states.py``), as data an auditor can read.

"The latest value of each field" is not a state: a transfer names ``to_agency``, not the
owner; a stage change names ``to_stage``; an attached report's ``report_id`` is not the
opening report. So each event type says, with these rules, which state fields it sets from
which of its data fields. The rules are plain data and know no domain: the same fold serves
``relais audit case`` (events read from the streams) and reporting's API (its index).

An event whose type this software does not know, or whose type declares nothing, changes no
field: it is listed in the state's ``not_folded`` instead, so the state never pretends to
know what such an event meant."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

_MISSING = object()


@dataclass(frozen=True)
class Set:
    """``state[name] = data[source]`` (``source`` defaults to ``name``). With ``given``, only
    when the event carries a value (not null)."""

    name: str
    source: str | None = None
    given: bool = False

    def apply(self, state: dict[str, Any], data: Mapping[str, Any]) -> None:
        value = data.get(self.source or self.name, _MISSING)
        if value is _MISSING or (self.given and value is None):
            return
        state[self.name] = value


@dataclass(frozen=True)
class SetAll:
    """Every data field, under its own name, but those in ``except_``: for an event that
    states the whole aggregate (a registration, a directory entry replaced)."""

    except_: frozenset[str] = frozenset()

    def apply(self, state: dict[str, Any], data: Mapping[str, Any]) -> None:
        state.update({k: v for k, v in data.items() if k not in self.except_})


@dataclass(frozen=True)
class Value:
    """``state[name] = value``: what the event's type itself says (a status)."""

    name: str
    value: Any

    def apply(self, state: dict[str, Any], data: Mapping[str, Any]) -> None:
        state[self.name] = self.value


@dataclass(frozen=True)
class Keep:
    """``state[name] = data[source]`` unless already set: the first value stays."""

    name: str
    source: str | None = None

    def apply(self, state: dict[str, Any], data: Mapping[str, Any]) -> None:
        value = data.get(self.source or self.name)
        if self.name not in state and value is not None:
            state[self.name] = value


@dataclass(frozen=True)
class Add:
    """Add ``data[source]`` (one value or a list) to the list ``state[name]``, once each."""

    name: str
    source: str | None = None

    def apply(self, state: dict[str, Any], data: Mapping[str, Any]) -> None:
        value = data.get(self.source or self.name)
        items = value if isinstance(value, list) else [value]
        current = list(state.get(self.name) or [])
        current.extend(v for v in items if v is not None and v not in current)
        state[self.name] = current


@dataclass(frozen=True)
class Remove:
    """Take ``data[source]`` out of the list ``state[name]``."""

    name: str
    source: str | None = None

    def apply(self, state: dict[str, Any], data: Mapping[str, Any]) -> None:
        value = data.get(self.source or self.name)
        state[self.name] = [v for v in state.get(self.name) or [] if v != value]


@dataclass(frozen=True)
class Highest:
    """``state[name]`` becomes ``data[source]`` if it ranks higher in ``order``."""

    name: str
    order: tuple[str, ...]
    source: str | None = None

    def apply(self, state: dict[str, Any], data: Mapping[str, Any]) -> None:
        value = data.get(self.source or self.name)
        current = state.get(self.name)
        rank = {v: i for i, v in enumerate(self.order)}
        if value is not None and (current is None or rank.get(value, -1) > rank.get(current, -1)):
            state[self.name] = value


@dataclass(frozen=True)
class Merge:
    """The fields of the object ``data[source]`` merged into ``state[name]`` (a correction's
    changes into the record it corrects), or into the state itself when ``name`` is None."""

    name: str | None
    source: str

    def apply(self, state: dict[str, Any], data: Mapping[str, Any]) -> None:
        changes = data.get(self.source)
        if not isinstance(changes, Mapping):
            return
        if self.name is None:
            state.update(changes)
            return
        current = state.get(self.name)
        state[self.name] = {**(current if isinstance(current, Mapping) else {}), **changes}


@dataclass(frozen=True)
class Entry:
    """One entry of the keyed collection ``state[name]``, under ``data[key]``: ``fields``
    (state name -> data field; every other data field when empty) and ``values`` (fixed)
    set on it, the entry's other fields kept."""

    name: str
    key: str
    fields: Mapping[str, str] = field(default_factory=dict)
    values: Mapping[str, Any] = field(default_factory=dict)
    all_fields: bool = False

    def apply(self, state: dict[str, Any], data: Mapping[str, Any]) -> None:
        key = data.get(self.key)
        if key is None:
            return
        entries = dict(state.get(self.name) or {})
        entry = dict(entries.get(str(key)) or {})
        if self.all_fields:
            entry.update({k: v for k, v in data.items() if k != self.key})
        entry.update({name: data.get(source) for name, source in self.fields.items()})
        entry.update(self.values)
        entries[str(key)] = entry
        state[self.name] = entries


@dataclass(frozen=True)
class Count:
    """``state[name]`` counts the events of this type."""

    name: str

    def apply(self, state: dict[str, Any], data: Mapping[str, Any]) -> None:
        state[self.name] = int(state.get(self.name) or 0) + 1


Rule = Set | SetAll | Value | Keep | Add | Remove | Highest | Merge | Entry | Count


def apply_rules(fields: dict[str, Any], rules: Sequence[Rule], data: Mapping[str, Any]) -> None:
    for rule in rules:
        rule.apply(fields, data)
