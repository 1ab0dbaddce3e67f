"""The referral's life and a unit's capacity as pure decisions: no I/O, no clock.

``decide(state, command)`` returns the events a command causes or raises :class:`DomainError`;
``evolve(state, event)`` folds one event into the state. The API and the deadline policy both
go through here, so a transition is allowed or refused in exactly one place."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from contracts.referral import (
    CapacitySet,
    PlaceFreed,
    PlaceHeld,
    PlaceReleased,
    PlaceReserved,
    ReferralAccepted,
    ReferralCompleted,
    ReferralDeclined,
    ReferralDetailsShared,
    ReferralEscalated,
    ReferralMade,
    ReferralOverdue,
    ReferralRequestRefused,
    ReferralWithdrawn,
)
from shared.domain import DomainError
from shared.events import DomainEvent
from shared.i18n import Message


class Status(StrEnum):
    made = "made"
    accepted = "accepted"
    declined = "declined"
    completed = "completed"
    withdrawn = "withdrawn"


STATUS_LABELS: dict[Status, Message] = {
    Status.made: Message(en="awaiting an answer", fr="en attente de réponse"),
    Status.accepted: Message(en="accepted", fr="acceptée"),
    Status.declined: Message(en="declined", fr="refusée"),
    Status.completed: Message(en="completed", fr="terminée"),
    Status.withdrawn: Message(en="withdrawn", fr="retirée"),
}


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def due_at(made_at: datetime, urgency: str, deadline_hours: Mapping[str, float]) -> datetime:
    """When the receiving unit must have answered a referral of ``urgency`` made at
    ``made_at``; the hours per urgency are configuration, passed in."""
    return made_at + timedelta(hours=deadline_hours[urgency])


@dataclass(frozen=True)
class Referral:
    referral_id: str
    case_id: str
    to_unit: str
    status: Status
    due_at: datetime
    overdue: bool = False
    escalated: bool = False


# -- commands ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Make:
    made: ReferralMade
    details: ReferralDetailsShared


@dataclass(frozen=True)
class RefuseRequest:
    """Casework asked for a referral that cannot be made: the answer goes on the referral
    aggregate casework named, so the request is settled there exactly once."""

    referral_id: str
    case_id: str
    action_id: str
    code: str
    message: Message


@dataclass(frozen=True)
class Accept:
    override_reason: str | None = None


@dataclass(frozen=True)
class Decline:
    reason: str
    suggested_unit: str | None = None


@dataclass(frozen=True)
class Complete:
    outcome: str


@dataclass(frozen=True)
class Withdraw:
    reason: str


@dataclass(frozen=True)
class MarkOverdue:
    now: datetime


@dataclass(frozen=True)
class Escalate:
    now: datetime
    after: timedelta
    escalated_to: str | None


Command = Make | RefuseRequest | Accept | Decline | Complete | Withdraw | MarkOverdue | Escalate

_VERB = {
    Accept: Message(en="accepted", fr="acceptée"),
    Decline: Message(en="declined", fr="refusée"),
    Complete: Message(en="completed", fr="terminée"),
    Withdraw: Message(en="withdrawn", fr="retirée"),
}
_ALLOWED_FROM: dict[type, frozenset[Status]] = {
    Accept: frozenset({Status.made}),
    Decline: frozenset({Status.made}),
    Complete: frozenset({Status.accepted}),
    Withdraw: frozenset({Status.made, Status.accepted}),
}


def _refuse_transition(state: Referral, command: Command) -> DomainError:
    now = STATUS_LABELS[state.status]
    verb = _VERB[type(command)]
    return DomainError(
        "illegal_transition",
        Message(
            en=f"This referral is {now.en}: it cannot be {verb.en}.",
            fr=f"Cette orientation est {now.fr} : elle ne peut pas être {verb.fr}.",
        ),
    )


def decide(state: Referral | None, command: Command) -> list[DomainEvent]:
    if isinstance(command, Make):
        if state is not None:
            raise DomainError(
                "already_exists",
                Message(en="This referral already exists.", fr="Cette orientation existe déjà."),
            )
        return [command.made, command.details]
    if isinstance(command, RefuseRequest):
        if state is not None:
            raise DomainError(
                "already_exists",
                Message(en="This referral already exists.", fr="Cette orientation existe déjà."),
            )
        return [
            ReferralRequestRefused(
                referral_id=command.referral_id,
                case_id=command.case_id,
                action_id=command.action_id,
                code=command.code,
                message_en=command.message.en,
                message_fr=command.message.fr,
            )
        ]
    if state is None:
        raise DomainError(
            "not_found",
            Message(en="No such referral.", fr="Orientation introuvable."),
            status=404,
        )
    if isinstance(command, MarkOverdue):
        # Not an error for the policy: nothing to record is the usual answer.
        if state.status is not Status.made or state.overdue or command.now < state.due_at:
            return []
        return [ReferralOverdue(**_ids(state), due_at=iso(state.due_at))]
    if isinstance(command, Escalate):
        if state.status is not Status.made or not state.overdue or state.escalated:
            return []
        if command.now < state.due_at + command.after:
            return []
        return [
            ReferralEscalated(
                **_ids(state), escalated_to=command.escalated_to, overdue_since=iso(state.due_at)
            )
        ]
    if state.status not in _ALLOWED_FROM[type(command)]:
        raise _refuse_transition(state, command)
    rid, case = state.referral_id, state.case_id
    if isinstance(command, Accept):
        return [
            ReferralAccepted(
                referral_id=rid,
                case_id=case,
                to_unit=state.to_unit,
                capacity_override_reason=command.override_reason,
            )
        ]
    if isinstance(command, Decline):
        if command.suggested_unit == state.to_unit:
            raise DomainError(
                "suggested_self",
                Message(
                    en="Suggest another unit than the one declining.",
                    fr="Proposez une autre unité que celle qui refuse.",
                ),
                status=422,
            )
        return [
            ReferralDeclined(
                referral_id=rid,
                case_id=case,
                reason=command.reason,
                suggested_unit=command.suggested_unit,
            )
        ]
    if isinstance(command, Complete):
        return [ReferralCompleted(referral_id=rid, case_id=case, outcome=command.outcome)]
    return [ReferralWithdrawn(referral_id=rid, case_id=case, reason=command.reason)]


def _ids(state: Referral) -> dict[str, str]:
    return {"referral_id": state.referral_id, "case_id": state.case_id, "to_unit": state.to_unit}


def evolve(state: Referral | None, event: DomainEvent) -> Referral | None:
    if isinstance(event, ReferralMade):
        return Referral(
            referral_id=event.referral_id,
            case_id=event.case_id,
            to_unit=event.to_unit,
            status=Status.made,
            due_at=parse_time(event.due_at),
        )
    if state is None:
        return None
    if isinstance(event, ReferralAccepted):
        return replace(state, status=Status.accepted)
    if isinstance(event, ReferralDeclined):
        return replace(state, status=Status.declined)
    if isinstance(event, ReferralCompleted):
        return replace(state, status=Status.completed)
    if isinstance(event, ReferralWithdrawn):
        return replace(state, status=Status.withdrawn)
    if isinstance(event, ReferralOverdue):
        return replace(state, overdue=True)
    if isinstance(event, ReferralEscalated):
        return replace(state, escalated=True)
    return state


# -- capacity ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Capacity:
    unit_id: str
    total: int = 0
    occupied_outside: int = 0
    reserved: frozenset[str] = frozenset()
    # Places a coordinator held by hand (a child placed outside Relais), by hold id.
    held: frozenset[str] = frozenset()
    # A unit that never set a capacity (a psychologist, a legal clinic) has no places to count:
    # accepting reserves nothing and is never refused as full.
    counted: bool = False

    @property
    def available(self) -> int:
        return max(0, self.total - self.occupied_outside - len(self.reserved) - len(self.held))


@dataclass(frozen=True)
class SetCapacity:
    total: int
    occupied_outside: int = 0


@dataclass(frozen=True)
class Reserve:
    referral_id: str
    override_reason: str | None = None


@dataclass(frozen=True)
class Release:
    referral_id: str
    because: str


@dataclass(frozen=True)
class Hold:
    """Hold a place by hand, for a child placed outside Relais (say); ``until`` is a
    YYYY-MM-DD the route has checked."""

    hold_id: str
    note: str
    until: str | None = None


@dataclass(frozen=True)
class Free:
    hold_id: str


CapacityCommand = SetCapacity | Reserve | Release | Hold | Free


def _decide_hold(state: Capacity, command: Hold | Free) -> list[DomainEvent]:
    if isinstance(command, Free):
        if command.hold_id not in state.held:
            raise DomainError(
                "hold_not_found",
                Message(
                    en="No place is held by hand under this id (released already?).",
                    fr="Aucune place n'est réservée à la main sous cet identifiant (déjà "
                    "libérée ?).",
                ),
                status=404,
            )
        return [PlaceFreed(unit_id=state.unit_id, hold_id=command.hold_id)]
    if command.hold_id in state.held:
        return []  # a retry of a hold already counted
    if not state.counted:
        raise DomainError(
            "capacity_not_counted",
            Message(
                en="The unit does not count its places: set its capacity before holding one.",
                fr="L'unité ne compte pas ses places : fixez sa capacité avant d'en réserver une.",
            ),
            status=409,
        )
    if state.available <= 0:
        raise DomainError(
            "unit_full",
            Message(
                en="The unit has no place left to hold.",
                fr="L'unité n'a plus de place à réserver.",
            ),
            status=409,
        )
    if not command.note.strip():
        raise DomainError(
            "note_required",
            Message(en="Say why the place is held.", fr="Indiquez pourquoi la place est réservée."),
            status=422,
        )
    return [
        PlaceHeld(
            unit_id=state.unit_id,
            hold_id=command.hold_id,
            note=command.note.strip(),
            until=command.until,
        )
    ]


def decide_capacity(state: Capacity, command: CapacityCommand) -> list[DomainEvent]:
    if isinstance(command, Hold | Free):
        return _decide_hold(state, command)
    if isinstance(command, SetCapacity):
        if command.total < 0 or command.occupied_outside < 0:
            raise DomainError(
                "negative_capacity",
                Message(
                    en="Capacity cannot be below zero.", fr="La capacité ne peut être négative."
                ),
                status=422,
            )
        return [
            CapacitySet(
                unit_id=state.unit_id,
                total=command.total,
                occupied_outside=command.occupied_outside,
            )
        ]
    if isinstance(command, Reserve):
        if not state.counted or command.referral_id in state.reserved:
            return []  # no places to count, or a retry of an accept already counted
        if state.available <= 0 and not (command.override_reason or "").strip():
            raise DomainError(
                "unit_full",
                Message(
                    en="The unit has no place left; accept with an override reason to exceed "
                    "its capacity.",
                    fr="L'unité n'a plus de place ; acceptez avec un motif de dépassement pour "
                    "aller au-delà de sa capacité.",
                ),
            )
        return [
            PlaceReserved(
                unit_id=state.unit_id,
                referral_id=command.referral_id,
                override_reason=command.override_reason,
            )
        ]
    if command.referral_id not in state.reserved:
        return []
    return [
        PlaceReleased(
            unit_id=state.unit_id, referral_id=command.referral_id, because=command.because
        )
    ]


def evolve_capacity(state: Capacity, event: DomainEvent) -> Capacity:
    if isinstance(event, CapacitySet):
        return replace(
            state, total=event.total, occupied_outside=event.occupied_outside, counted=True
        )
    if isinstance(event, PlaceReserved):
        return replace(state, reserved=state.reserved | {event.referral_id})
    if isinstance(event, PlaceReleased):
        return replace(state, reserved=state.reserved - {event.referral_id})
    if isinstance(event, PlaceHeld):
        return replace(state, held=state.held | {event.hold_id})
    if isinstance(event, PlaceFreed):
        return replace(state, held=state.held - {event.hold_id})
    return state


# -- capacity kept true after an interruption ----------------------------------------------


def place_to_release(status: Status | None) -> str | None:
    """Why a place still held for a referral in ``status`` must be given back, or None to
    keep it. Only an accepted referral holds a place; anything else still holding one was
    interrupted between its two appends (reserve then accept, complete or withdraw then
    release)."""
    if status is Status.accepted:
        return None
    if status is Status.completed:
        return "completed"
    if status is Status.withdrawn:
        return "withdrawn"
    return "not_accepted"
