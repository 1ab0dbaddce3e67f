"""Referral's aggregates as the application layer loads them: where each lives on the log
and how its state is folded from its events (the domain's ``evolve``)."""

from __future__ import annotations

from dataclasses import replace

from services.referral.domain import Capacity, Referral, evolve, evolve_capacity
from services.referral.domain.directory import Entry, evolve_entry
from shared.commands import AggregateKind
from shared.i18n import Message
from shared.ids import derived_id
from shared.recorded import RecordedEvent


def _referral(state: Referral | None, recorded: RecordedEvent) -> Referral | None:
    return evolve(state, recorded.event)


def _capacity(state: Capacity, recorded: RecordedEvent) -> Capacity:
    if not state.unit_id:  # the unit is the aggregate's id
        state = replace(state, unit_id=recorded.aggregate.id)
    return evolve_capacity(state, recorded.event)


def _entry(state: Entry, recorded: RecordedEvent) -> Entry:
    return evolve_entry(state, recorded.event)


def _missing(en: str, fr: str) -> Message:
    return Message(en=f"No such {en}.", fr=f"{fr} introuvable.")


REFERRAL: AggregateKind[Referral | None] = AggregateKind(
    "referral", "referral", None, _referral, not_found=_missing("referral", "Orientation")
)
CAPACITY = AggregateKind("referral", "capacity", Capacity(""), _capacity)
AGENCY = AggregateKind("referral", "agency", Entry(), _entry)
UNIT = AggregateKind("referral", "unit", Entry(), _entry, not_found=_missing("unit", "Unité"))
STAFF = AggregateKind(
    "referral", "staff", Entry(), _entry, not_found=_missing("staff member", "Membre du personnel")
)
TRAINING = AggregateKind("referral", "training", Entry(), _entry)


def staff_aggregate_id(staff_id: str) -> str:
    # User ids may hold dots or '@', which a NATS subject token cannot.
    return derived_id("staff", staff_id)
