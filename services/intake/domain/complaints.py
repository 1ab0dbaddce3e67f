"""A complaint's decisions: filed, acknowledged, then resolved, never by the person it is
about."""

from __future__ import annotations

from dataclasses import dataclass, replace

from contracts.intake import ComplaintAcknowledged, ComplaintFiled, ComplaintResolved
from shared.domain import DomainError
from shared.events import DomainEvent
from shared.i18n import Message


@dataclass(frozen=True)
class ComplaintState:
    exists: bool = False
    complaint_id: str = ""
    status: str = "new"  # filed, acknowledged, resolved
    about_user: str = ""
    about_agency: str = ""


@dataclass(frozen=True)
class FileComplaint:
    event: ComplaintFiled


@dataclass(frozen=True)
class AcknowledgeComplaint:
    by_user: str
    note: str | None


@dataclass(frozen=True)
class ResolveComplaint:
    by_user: str
    upheld: bool
    outcome: str


ComplaintCommand = FileComplaint | AcknowledgeComplaint | ResolveComplaint
NO_COMPLAINT = Message(en="No such complaint.", fr="Plainte introuvable.")


def decide_complaint(state: ComplaintState, command: ComplaintCommand) -> list[DomainEvent]:
    if isinstance(command, FileComplaint):
        return [] if state.exists else [command.event]
    # The person complained about never handles the complaint, and is not even told it
    # exists: the same answer as for a complaint that does not exist.
    if not state.exists or command.by_user == state.about_user:
        raise DomainError("not_found", NO_COMPLAINT, status=404)
    if state.status == "resolved":
        raise DomainError(
            "complaint_resolved",
            Message(en="This complaint is already resolved.", fr="Cette plainte est déjà close."),
        )
    if isinstance(command, AcknowledgeComplaint):
        if state.status != "filed":
            raise DomainError(
                "already_acknowledged",
                Message(
                    en="Receipt of this complaint was already acknowledged.",
                    fr="La réception de cette plainte a déjà été accusée.",
                ),
            )
        return [ComplaintAcknowledged(complaint_id=state.complaint_id, note=command.note)]
    if state.status != "acknowledged":
        raise DomainError(
            "not_acknowledged",
            Message(
                en="Acknowledge the complaint before resolving it.",
                fr="Accusez réception de la plainte avant de la clore.",
            ),
        )
    return [
        ComplaintResolved(
            complaint_id=state.complaint_id,
            upheld=command.upheld,
            outcome=command.outcome,
        )
    ]


def evolve_complaint(state: ComplaintState, event: DomainEvent) -> ComplaintState:
    if isinstance(event, ComplaintFiled):
        return ComplaintState(
            exists=True,
            complaint_id=event.complaint_id,
            status="filed",
            about_user=event.about_user,
            about_agency=event.about_agency,
        )
    if isinstance(event, ComplaintAcknowledged):
        return replace(state, status="acknowledged")
    if isinstance(event, ComplaintResolved):
        return replace(state, status="resolved")
    return state


def complaint_state(events: list[DomainEvent]) -> ComplaintState:
    state = ComplaintState()
    for event in events:
        state = evolve_complaint(state, event)
    return state
