"""A child record's decisions: recording, corrections and suggested duplicates, and what
is known of a child's age."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from pydantic import ValidationError

from contracts.casework import ChildIdentified
from contracts.intake import (
    ChildDetailsCorrected,
    ChildRecorded,
    DuplicateConfirmed,
    DuplicateRejected,
    DuplicateSuggested,
    ReportedChild,
    ReportRegistered,
)
from shared.domain import DomainError
from shared.events import DomainEvent
from shared.i18n import Message
from shared.validation import ChildCorrection

# What a correction may change: the child as described, never where the record came from.
CORRECTABLE = (
    "name",
    "alias",
    "sex",
    "date_of_birth",
    "age_years",
    "age_min",
    "age_max",
    "documented",
    "school_status",
    "vulnerabilities",
    "whereabouts",
)
AGE_FIELDS = ("date_of_birth", "age_years", "age_min", "age_max")


class CorrectableChildIn(ChildCorrection):
    """A correction as sent, by an intake officer or by a case worker through casework."""

    def record_changes(self) -> dict[str, Any]:
        """The fields sent, as the child record holds them (JSON values, a range as its two
        ends)."""
        changes = self.sent()
        if "age_range" in changes:
            ages = changes.pop("age_range") or {}
            changes["age_min"], changes["age_max"] = ages.get("min"), ages.get("max")
        return changes


def age_on(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def age_range(child: ReportedChild, received: date) -> tuple[int, int] | None:
    """What is known of the child's age when the report was received."""
    if child.date_of_birth:
        age = age_on(date.fromisoformat(child.date_of_birth), received)
        return age, age
    if child.age_years is not None:
        return child.age_years, child.age_years
    if child.age_min is not None and child.age_max is not None:
        return child.age_min, child.age_max
    return None


def children_of(report: ReportRegistered) -> list[ChildRecorded]:
    """The child records a registered report calls for, one per child it mentions."""
    return [
        ChildRecorded(
            child_id=child.child_id,
            report_id=report.report_id,
            agency=report.agency,
            commune=report.commune,
            received_at=report.received_at,
            details=child,
        )
        for child in report.children
    ]


def child_from_identified(case_id: str, found: ChildIdentified) -> ChildRecorded:
    """The child record a worker who opened a case directly asked for, under the id casework
    chose, so casework can link it without waiting for an answer."""
    d = found.details
    return ChildRecorded(
        child_id=found.child_id,
        case_id=case_id,
        agency=found.agency,
        commune=found.commune,
        received_at=found.found_at,
        details=ReportedChild(
            child_id=found.child_id,
            unidentified=not (d.name or d.alias),
            name=d.name,
            alias=d.alias,
            sex=d.sex,
            date_of_birth=d.date_of_birth,
            age_years=d.age_years,
            age_min=d.age_min,
            age_max=d.age_max,
            documented=d.documented,
            school_status=d.school_status,
            vulnerabilities=list(d.vulnerabilities),
            whereabouts=d.whereabouts,
        ),
    )


@dataclass(frozen=True)
class ChildState:
    exists: bool = False
    child_id: str = ""
    agency: str = ""
    report_id: str | None = None
    commune: str = "unknown"
    received_at: str = ""
    details: ReportedChild | None = None  # as it now reads, corrections applied
    suggestions: dict[str, str] = field(default_factory=dict)  # candidate -> pending/...


@dataclass(frozen=True)
class RecordChild:
    event: ChildRecorded
    suggestions: list[DuplicateSuggested]


@dataclass(frozen=True)
class ResolveDuplicate:
    candidate_id: str
    confirm: bool
    note: str | None


@dataclass(frozen=True)
class CorrectChild:
    changes: dict[str, Any]  # JSON values of CORRECTABLE fields
    reason: str
    # Likely matches for the corrected child (a corrected name can reveal a known child).
    suggestions: list[DuplicateSuggested] = field(default_factory=list)


ChildCommand = RecordChild | ResolveDuplicate | CorrectChild
NO_CHILD = Message(en="No such child record.", fr="Fiche enfant introuvable.")


def decide_child(state: ChildState, command: ChildCommand) -> list[DomainEvent]:
    if isinstance(command, RecordChild):
        if state.exists:
            return []  # a retried registration: the record is already there
        # Suggestions only: never merged automatically, a person decides.
        return [command.event, *command.suggestions]
    if isinstance(command, CorrectChild):
        return _correct(state, command)
    status = state.suggestions.get(command.candidate_id)
    if not state.exists or status is None:
        raise DomainError(
            "no_such_suggestion",
            Message(en="No such suggested duplicate.", fr="Aucun doublon suggéré de ce type."),
            status=404,
        )
    if status != "pending":
        raise DomainError(
            "already_resolved",
            Message(
                en="This suggested duplicate was already confirmed or rejected.",
                fr="Ce doublon suggéré a déjà été confirmé ou rejeté.",
            ),
        )
    child_id = state.child_id
    if command.confirm:
        return [
            DuplicateConfirmed(
                child_id=child_id, candidate_id=command.candidate_id, note=command.note
            )
        ]
    return [
        DuplicateRejected(child_id=child_id, candidate_id=command.candidate_id, note=command.note)
    ]


def corrected_changes(details: ReportedChild, changes: dict[str, Any]) -> dict[str, Any]:
    """The fields a correction really changes, with their new values.

    A child has one kind of age (a birth date, an age, or a range): giving any of them
    replaces the whole age, so a corrected age never sits beside a stale birth date. A name
    given to a child recorded as unidentified makes the child identified."""
    current = details.model_dump(mode="json")
    wanted = {k: v for k, v in changes.items() if k in CORRECTABLE}
    if any(k in wanted for k in AGE_FIELDS):
        wanted = {**dict.fromkeys(AGE_FIELDS), **wanted}
    if details.unidentified and (
        wanted.get("name", details.name) or wanted.get("alias", details.alias)
    ):
        wanted["unidentified"] = False
    return {k: v for k, v in wanted.items() if current.get(k) != v}


def apply_correction(details: ReportedChild, changes: dict[str, Any]) -> ReportedChild:
    return ReportedChild.model_validate({**details.model_dump(mode="json"), **changes})


def _correct(state: ChildState, cmd: CorrectChild) -> list[DomainEvent]:
    if not state.exists or state.details is None:
        raise DomainError("not_found", NO_CHILD, status=404)
    changed = corrected_changes(state.details, cmd.changes)
    if not changed:
        raise DomainError(
            "nothing_changed",
            Message(
                en="The correction changes nothing in the child record.",
                fr="La correction ne modifie rien dans la fiche enfant.",
            ),
            status=422,
        )
    try:
        after = apply_correction(state.details, changed)
    except ValidationError:
        raise DomainError(
            "invalid_correction",
            Message(
                en="The corrected record is not valid (ages are 0 to 17).",
                fr="La fiche corrigée n'est pas valide (les âges vont de 0 à 17 ans).",
            ),
            status=422,
            field="changes",
        ) from None
    if (after.age_min is None) != (after.age_max is None) or (
        after.age_min is not None and after.age_max is not None and after.age_min > after.age_max
    ):
        raise DomainError(
            "invalid_age_range",
            Message(
                en="An age range needs a lower age not above the upper age.",
                fr="Une tranche d'âge demande un âge minimal qui ne dépasse pas l'âge maximal.",
            ),
            status=422,
            field="changes.age_range",
        )
    # A candidate already suggested (pending, confirmed or rejected) is never suggested again.
    fresh = [s for s in cmd.suggestions if s.candidate_id not in state.suggestions]
    return [
        ChildDetailsCorrected(
            child_id=state.child_id, fields=sorted(changed), changes=changed, reason=cmd.reason
        ),
        *fresh,
    ]


def evolve_child(state: ChildState, event: DomainEvent) -> ChildState:
    if isinstance(event, ChildRecorded):
        return ChildState(
            exists=True,
            child_id=event.child_id,
            agency=event.agency,
            report_id=event.report_id,
            commune=event.commune,
            received_at=event.received_at,
            details=event.details,
        )
    if isinstance(event, ChildDetailsCorrected) and state.details is not None:
        return replace(state, details=apply_correction(state.details, event.changes))
    if isinstance(event, DuplicateSuggested):
        return replace(state, suggestions={**state.suggestions, event.candidate_id: "pending"})
    if isinstance(event, DuplicateConfirmed):
        return replace(state, suggestions={**state.suggestions, event.candidate_id: "confirmed"})
    if isinstance(event, DuplicateRejected):
        return replace(state, suggestions={**state.suggestions, event.candidate_id: "rejected"})
    return state


def child_state(events: list[DomainEvent]) -> ChildState:
    state = ChildState()
    for event in events:
        state = evolve_child(state, event)
    return state
