"""A case's history for auditors, as pure functions over indexed events.

Two callers share these functions: the reporting API (events from its index tables) and
``relais audit case`` (events read straight from the streams, so an auditor can replay a case
with the services down). Whatever the source, the same events give the same history.

Nothing here does I/O; every input is an :class:`IndexedEvent`, which any stored envelope
can become, whether or not this software knows its type.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from shared.audit_state import Rule, apply_rules
from shared.envelope import Aggregate
from shared.events import DomainEvent, EventRegistry, EventTypeRef, registry
from shared.i18n import LocalisedValueError, Message

# The streams a case's story runs through, in the order a case moves through them: the
# tie-breaker when two streams hold events stamped with the same instant.
CASE_STREAMS: tuple[str, ...] = ("INTAKE", "REFERRAL", "CASEWORK")

# Data fields that name another record, and the kind of record they name.
LINK_FIELDS: Mapping[str, str] = {
    "case_id": "case",
    "child_id": "child",
    "report_id": "report",
    "referral_id": "referral",
    # A suggested duplicate names another child's record: shown, never followed.
    "candidate_id": "child",
}
# The same as lists of plain ids (e.g. a case merging several reports).
LINK_LIST_FIELDS: Mapping[str, str] = {f"{name}s": kind for name, kind in LINK_FIELDS.items()}
# An aggregate of one of these types is about the record of the same id, even when its data
# does not repeat the id (CaseAssigned names no case_id: its subject does).
AGGREGATE_KINDS = frozenset(LINK_FIELDS.values())

UNKNOWN_TYPE = Message(
    en="An event of a type this software does not know ({type}).",
    fr="Un événement d'un type que ce logiciel ne connaît pas ({type}).",
)


@dataclass(frozen=True, order=True)
class Link:
    """A record an event is about: ``("child", "c-1")``."""

    kind: str
    id: str


@dataclass(frozen=True)
class IndexedEvent:
    stream: str
    seq: int
    subject: str
    type: str
    context: str
    name: str
    aggregate_type: str
    aggregate_id: str
    aggregate_version: int
    time: datetime
    actor: str
    actor_agency: str
    actor_role: str
    data: dict[str, Any]
    links: frozenset[Link] = field(default_factory=frozenset)

    @property
    def aggregate_key(self) -> str:
        return f"{self.context}/{self.aggregate_type}/{self.aggregate_id}"

    @property
    def order_key(self) -> tuple[datetime, int, str, int]:
        rank = CASE_STREAMS.index(self.stream) if self.stream in CASE_STREAMS else 99
        return (self.time, rank, self.stream, self.seq)


# -- from a stored envelope ---------------------------------------------------------------


def index_envelope(
    stream: str,
    seq: int,
    subject: str,
    envelope: Mapping[str, Any],
    *,
    decoded: DomainEvent | None = None,
    reg: EventRegistry = registry,
) -> IndexedEvent:
    """Any parsed envelope as an indexed event. Known types are upcast to the current model
    (so one aggregate's fields keep one name across versions); unknown or undecodable ones
    keep their stored data, because an audit must show every event, not just the ones this
    version of the software understands."""
    type_name = str(envelope["type"])
    raw_data = envelope.get("data")
    data: dict[str, Any] = dict(raw_data) if isinstance(raw_data, Mapping) else {}
    if decoded is None:
        try:
            decoded = reg.decode(type_name, data)
        except ValueError:  # unknown type, no upcaster, or data this model refuses
            decoded = None
    if decoded is not None:
        data = decoded.model_dump(mode="json")
    context, name = _context_and_name(type_name, subject)
    try:
        aggregate = Aggregate.from_subject(subject)
        aggregate_type, aggregate_id = aggregate.type, aggregate.id
    except ValueError:
        aggregate_type = str(envelope.get("aggregatetype", "?"))
        aggregate_id = str(envelope.get("subject", "?"))
    version = envelope.get("aggregateversion")
    return IndexedEvent(
        stream=stream,
        seq=seq,
        subject=subject,
        type=type_name,
        context=context,
        name=name,
        aggregate_type=aggregate_type,
        aggregate_id=aggregate_id,
        aggregate_version=version if isinstance(version, int) else 0,
        time=_event_time(str(envelope.get("time", ""))),
        actor=str(envelope.get("actor", "?")),
        actor_agency=str(envelope.get("actoragency", "?")),
        actor_role=str(envelope.get("actorrole", "?")),
        data=data,
        links=extract_links(aggregate_type, aggregate_id, data),
    )


def _context_and_name(type_name: str, subject: str) -> tuple[str, str]:
    try:
        ref = EventTypeRef.parse(type_name)
        return ref.context, ref.name
    except ValueError:  # not even a Relais type name: the subject still says where it is
        parts = subject.split(".")
        return parts[0], parts[-1]


def extract_links(
    aggregate_type: str, aggregate_id: str, data: Mapping[str, Any]
) -> frozenset[Link]:
    """The records an event is about: its own aggregate, top-level id fields, lists of ids,
    and id fields of the objects in its lists (``ReportAccepted.children[].child_id``)."""
    links: set[Link] = set()
    if aggregate_type in AGGREGATE_KINDS:
        links.add(Link(aggregate_type, aggregate_id))
    _links_of_object(data, links)
    for value in data.values():
        items = value if isinstance(value, list) else [value]
        for item in items:
            if isinstance(item, Mapping):
                _links_of_object(item, links)
    return frozenset(links)


def _links_of_object(obj: Mapping[str, Any], links: set[Link]) -> None:
    for name, kind in LINK_FIELDS.items():
        value = obj.get(name)
        if isinstance(value, str) and value:
            links.add(Link(kind, value))
    for name, kind in LINK_LIST_FIELDS.items():
        values = obj.get(name)
        if isinstance(values, list):
            links.update(Link(kind, v) for v in values if isinstance(v, str) and v)


# -- times ---------------------------------------------------------------------------------

_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$"
)

BAD_INSTANT = Message(
    en="A date and time with its offset is expected (RFC 3339, e.g. 2026-03-01T14:30:00Z).",
    fr="Une date et heure avec son décalage est attendue (RFC 3339, p. ex. 2026-03-01T14:30:00Z).",
)


def parse_instant(text: str) -> datetime:
    """An RFC 3339 instant, in UTC. A time without an offset is refused rather than guessed:
    an auditor's "as of" must mean one instant whatever the server's time zone."""
    if not _RFC3339.match(text):
        raise LocalisedValueError(BAD_INSTANT)
    digits = text.replace("z", "Z").replace("Z", "+00:00")
    main, dot, rest = digits.partition(".")
    if dot:  # Python reads at most microseconds; nanosecond stamps are cut, not refused
        frac, sign, offset = re.split(r"([+-])", rest, maxsplit=1)
        digits = f"{main}.{frac[:6]}{sign}{offset}"
    try:
        return datetime.fromisoformat(digits).astimezone(UTC)
    except ValueError:  # e.g. month 13
        raise LocalisedValueError(BAD_INSTANT) from None


def _event_time(text: str) -> datetime:
    # A stored event's time is written by the event store (RFC 3339, UTC); one written by
    # something else still gets a place in the history rather than breaking it.
    try:
        return parse_instant(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return datetime(1970, 1, 1, tzinfo=UTC)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def format_instant(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


# -- which events belong to a case -----------------------------------------------------------


def related_links(case_id: str, events: Iterable[IndexedEvent]) -> frozenset[Link]:
    """The case, its children, and the reports and referrals of either.

    Two steps, not a closure: a report naming the child and a sibling brings the report in,
    not the sibling's whole record, and a child's later case is shown by the events that
    name the child, not followed further. An audit of one case stays about that case."""
    case = Link("case", case_id)
    events = list(events)
    of_case = [e for e in events if case in e.links]
    children = {link for e in of_case for link in e.links if link.kind == "child"}
    of_children = [e for e in events if e.links & children]
    papers = {
        link
        for e in (*of_case, *of_children)
        for link in e.links
        if link.kind in ("report", "referral")
    }
    return frozenset({case, *children, *papers})


# -- the history ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CaseHistory:
    case_id: str
    as_of: datetime | None
    links: frozenset[Link]
    events: list[dict[str, Any]]
    state: dict[str, dict[str, Any]]
    # Every record the answer names: the case, and each record an event shown names (its
    # children, reports and referrals, another case of the child, a suggested duplicate).
    shown: frozenset[Link] = frozenset()

    def ids(self, kind: str) -> list[str]:
        return sorted(link.id for link in self.links if link.kind == kind)

    def shown_ids(self) -> dict[str, list[str]]:
        """The records the answer shows, by kind: what its reader is recorded as reading."""
        kinds: dict[str, list[str]] = {}
        for link in sorted(self.shown | self.links):
            kinds.setdefault(link.kind, []).append(link.id)
        return kinds

    def as_dict(self) -> dict[str, Any]:
        return {
            "case_id": self.case_id,
            "as_of": format_instant(self.as_of) if self.as_of else None,
            "children": self.ids("child"),
            "reports": self.ids("report"),
            "referrals": self.ids("referral"),
            "events": self.events,
            "state": self.state,
        }


def case_known(case_id: str, events: Iterable[IndexedEvent]) -> bool:
    case = Link("case", case_id)
    return any(case in e.links for e in events)


def assemble_history(
    case_id: str,
    candidates: Iterable[IndexedEvent],
    as_of: datetime | None = None,
    *,
    reg: EventRegistry = registry,
) -> CaseHistory | None:
    """The ordered history of a case and its children from any superset of its events, or
    None if no event names the case at all.

    With ``as_of``, only events up to that instant count, for which records are related too:
    the audit shows what the log held then, not what was learnt later."""
    everything = _unique(candidates)
    if not case_known(case_id, everything):
        return None
    before = [e for e in everything if as_of is None or e.time <= as_of]
    links = related_links(case_id, before)
    chosen = sorted((e for e in before if e.links & links), key=lambda e: e.order_key)
    state: dict[str, dict[str, Any]] = {}
    entries = []
    for event in chosen:
        changed = fold(state, event, reg)
        entries.append(_entry(event, changed, reg))
    shown = frozenset({Link("case", case_id)}.union(*(e.links for e in chosen)))
    return CaseHistory(case_id, as_of, links, entries, state, shown)


def _unique(events: Iterable[IndexedEvent]) -> list[IndexedEvent]:
    # Both callers may pass an event twice (found through two links); keep one per position.
    by_position = {(e.stream, e.seq): e for e in events}
    return list(by_position.values())


def fold(
    state: dict[str, dict[str, Any]], event: IndexedEvent, reg: EventRegistry = registry
) -> list[str]:
    """The aggregate's state after ``event``: each event type's declared rules
    (``DomainEvent.audit_state``) applied to its fields, so that after a transfer the owner
    is the new agency, after a stage change the stage is the new one, and the opening report
    stays the opening report. Beside the fields: the aggregate's version, its last event, and
    the events whose meaning this software cannot fold (``not_folded``). Returns the fields
    that changed."""
    current = state.setdefault(
        event.aggregate_key,
        {
            "context": event.context,
            "aggregate_type": event.aggregate_type,
            "aggregate_id": event.aggregate_id,
            "fields": {},
        },
    )
    fields: dict[str, Any] = current["fields"]
    rules = state_rules(event.type, reg)
    changed: list[str] = []
    if rules is None:
        current.setdefault("not_folded", []).append(event.name)
    else:
        before = copy.deepcopy(fields)
        apply_rules(fields, rules, event.data)
        changed = sorted(k for k, v in fields.items() if k not in before or before[k] != v)
    current["version"] = event.aggregate_version
    current["last_event"] = event.name
    current["updated_at"] = format_instant(event.time)
    return changed


def state_rules(type_name: str, reg: EventRegistry = registry) -> tuple[Rule, ...] | None:
    """What events of this type do to the auditor's state; None if this software does not
    know the type (or this version of it), or the type declares nothing."""
    try:
        ref = EventTypeRef.parse(type_name)
        model = reg.model_for(ref.context, ref.name)
    except ValueError:
        return None
    return model.audit_state if ref.version <= model.version else None


def describe(type_name: str, reg: EventRegistry = registry) -> dict[str, str]:
    try:
        ref = EventTypeRef.parse(type_name)
        return dict(reg.model_for(ref.context, ref.name).description)
    except ValueError:
        message = UNKNOWN_TYPE.format(type=type_name)
        return {"en": message.en, "fr": message.fr}


def _entry(event: IndexedEvent, changed: list[str], reg: EventRegistry) -> dict[str, Any]:
    return {
        "time": format_instant(event.time),
        "stream": event.stream,
        "seq": event.seq,
        "subject": event.subject,
        "type": event.type,
        "event": event.name,
        "aggregate": {
            "context": event.context,
            "type": event.aggregate_type,
            "id": event.aggregate_id,
            "version": event.aggregate_version,
        },
        "actor": {"user": event.actor, "agency": event.actor_agency, "role": event.actor_role},
        "description": describe(event.type, reg),
        "data": event.data,
        "changed": changed,
    }
