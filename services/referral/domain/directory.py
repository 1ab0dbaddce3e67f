"""The directory's aggregates as pure decisions: an agency, a unit, a staff member, a
training session. Rules that need the rest of the directory (the agency exists, the hub is
one level deep) are checked by the application layer against the read model."""

from __future__ import annotations

from dataclasses import dataclass

from contracts.referral import (
    AgencyRegistered,
    CompetencyAssessed,
    StaffMemberRegistered,
    TrainingSessionHeld,
    UnitDescribed,
)
from shared.domain import DomainError
from shared.events import DomainEvent
from shared.i18n import Message


@dataclass(frozen=True)
class Entry:
    """An agency, unit, staff member or training session: whether it exists, and whose."""

    exists: bool = False
    agency_id: str = ""


def evolve_entry(state: Entry, event: DomainEvent) -> Entry:
    if isinstance(event, AgencyRegistered):
        return Entry(True, event.agency_id)
    if isinstance(event, UnitDescribed):
        return Entry(True, event.agency_id)
    if isinstance(event, StaffMemberRegistered):
        return Entry(True, event.agency)
    if isinstance(event, TrainingSessionHeld):
        return Entry(True, event.agency_id)
    return state


MOVED = Message(
    en="A unit cannot move to another agency.",
    fr="Une unité ne peut pas changer de structure.",
)


def describe_unit(state: Entry, described: UnitDescribed) -> list[DomainEvent]:
    """A unit's description, new or revised; it stays with the agency it was first described
    under."""
    if state.exists and state.agency_id != described.agency_id:
        raise DomainError("invalid_value", MOVED, status=422, field="agency_id")
    return [described]


def assess(state: Entry, assessed: CompetencyAssessed) -> list[DomainEvent]:
    if not state.exists:
        raise DomainError(
            "not_found",
            Message(en="No such staff member.", fr="Membre du personnel introuvable."),
            status=404,
        )
    return [assessed]
