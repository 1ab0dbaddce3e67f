"""Intake's decisions, without I/O: ``decide(state, command) -> events`` and
``evolve(state, event) -> state`` for reports, children and complaints.

Input shape (known codes, lengths, dates not in the future) is checked at the API edge; here
are the rules that depend on what already happened to the aggregate."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

from services.intake.events import (
    AcceptedChild,
    ChildRecorded,
    ComplaintFiled,
    DuplicateConfirmed,
    DuplicateRejected,
    DuplicateSuggested,
    ReportAccepted,
    ReportAmended,
    ReportedChild,
    ReportRegistered,
    ReportScreened,
    ScreeningOverdue,
)
from shared.domain import DomainError
from shared.events import DomainEvent
from shared.i18n import Message
from shared.reference import codes

DECISIONS = ("protection_concern", "not_a_concern", "redirect", "more_information")
# A report waiting for more information can be screened again; the others are final.
FINAL_DECISIONS = frozenset({"protection_concern", "not_a_concern", "redirect"})
AMENDABLE = (
    "channel",
    "received_at",
    "commune",
    "concerns",
    "reporter",
    "alleged_perpetrator",
    "narrative",
    "immediate_danger",
    "urgency",
)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def deadline_for(received_at: datetime, urgency: str) -> datetime:
    """Urgency deadlines run from the moment the report was received (domain reference)."""
    return received_at + timedelta(hours=codes().urgency_hours[urgency])


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


def accepted_child(child: ReportedChild, received: date, child_id: str) -> AcceptedChild:
    known = age_range(child, received)
    age = known[0] if known and known[0] == known[1] else None
    band = codes().age_band(age)
    if known and age is None and codes().age_band(known[0]) == codes().age_band(known[1]):
        band = codes().age_band(known[0])  # a range inside one band still counts there
    return AcceptedChild(child_id=child_id, sex=child.sex, age_years=age, age_band=band)


# -- reports -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportState:
    exists: bool = False
    data: dict[str, Any] = field(default_factory=dict)  # registered fields, amended
    children: tuple[ReportedChild, ...] = ()
    status: str = "new"  # received, screened decisions, or new
    decision: str | None = None
    urgency: str | None = None
    overdue: bool = False

    @property
    def received_at(self) -> datetime:
        return parse_time(str(self.data["received_at"]))

    @property
    def deadline(self) -> datetime:
        return deadline_for(self.received_at, self.urgency or str(self.data["urgency"]))

    @property
    def awaiting_screening(self) -> bool:
        return self.exists and self.decision not in FINAL_DECISIONS


@dataclass(frozen=True)
class RegisterReport:
    event: ReportRegistered
    now: datetime


@dataclass(frozen=True)
class ScreenReport:
    decision: str
    urgency: str
    rationale: str
    redirect_to: str | None
    agency: str
    unit: str | None
    now: datetime
    # child record id per reported child id, where a confirmed duplicate links it to an
    # earlier record: casework then adds the report to that child's case.
    canonical_children: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class AmendReport:
    changes: dict[str, Any]  # JSON values of AMENDABLE fields
    reason: str


@dataclass(frozen=True)
class MarkOverdue:
    now: datetime


ReportCommand = RegisterReport | ScreenReport | AmendReport | MarkOverdue

NOT_FOUND = Message(en="No such report.", fr="Signalement introuvable.")


def decide_report(state: ReportState, command: ReportCommand) -> list[DomainEvent]:
    if isinstance(command, RegisterReport):
        if state.exists:
            raise DomainError(
                "already_registered",
                Message(en="This report already exists.", fr="Ce signalement existe déjà."),
            )
        return [command.event]
    if not state.exists:
        raise DomainError("not_found", NOT_FOUND, status=404)
    if isinstance(command, ScreenReport):
        return _screen(state, command)
    if isinstance(command, AmendReport):
        return _amend(state, command)
    return _overdue(state, command)


def _screen(state: ReportState, cmd: ScreenReport) -> list[DomainEvent]:
    if not state.awaiting_screening:
        raise DomainError(
            "already_screened",
            Message(
                en="This report has already been screened.",
                fr="Ce signalement a déjà été trié.",
            ),
        )
    if cmd.decision == "redirect" and not cmd.redirect_to:
        raise DomainError(
            "redirect_needs_target",
            Message(
                en="Say which body the report is redirected to.",
                fr="Indiquez vers quel organisme le signalement est réorienté.",
            ),
            status=422,
            field="redirect_to",
        )
    report_id = str(state.data["report_id"])
    deadline = deadline_for(state.received_at, cmd.urgency)
    events: list[DomainEvent] = [
        ReportScreened(
            report_id=report_id,
            decision=cmd.decision,
            urgency=cmd.urgency,
            rationale=cmd.rationale,
            redirect_to=cmd.redirect_to,
            deadline=iso(deadline),
            screened_at=iso(cmd.now),
            within_deadline=cmd.now <= deadline,
        )
    ]
    if cmd.decision == "protection_concern":
        received = state.received_at.date()
        events.append(
            ReportAccepted(
                report_id=report_id,
                children=[
                    accepted_child(c, received, cmd.canonical_children.get(c.child_id, c.child_id))
                    for c in state.children
                ],
                concerns=list(state.data["concerns"]),
                urgency=cmd.urgency,
                commune=str(state.data["commune"]),
                agency=cmd.agency,  # the screener's agency owns the case
                unit=cmd.unit,
                received_at=str(state.data["received_at"]),
                accepted_at=iso(cmd.now),
                immediate_danger=bool(state.data["immediate_danger"]),
            )
        )
    return events


def _amend(state: ReportState, cmd: AmendReport) -> list[DomainEvent]:
    changed = {k: v for k, v in cmd.changes.items() if k in AMENDABLE and state.data.get(k) != v}
    if not changed:
        raise DomainError(
            "nothing_changed",
            Message(
                en="The amendment changes nothing in the report.",
                fr="La correction ne modifie rien dans le signalement.",
            ),
            status=422,
        )
    return [
        ReportAmended(
            report_id=str(state.data["report_id"]),
            fields=sorted(changed),
            changes=changed,
            reason=cmd.reason,
        )
    ]


def _overdue(state: ReportState, cmd: MarkOverdue) -> list[DomainEvent]:
    # Only a report nobody has screened yet is overdue; it fires once per report.
    if state.decision is not None or state.overdue or cmd.now <= state.deadline:
        return []
    urgency = state.urgency or str(state.data["urgency"])
    return [
        ScreeningOverdue(
            report_id=str(state.data["report_id"]), urgency=urgency, deadline=iso(state.deadline)
        )
    ]


def evolve_report(state: ReportState, event: DomainEvent) -> ReportState:
    if isinstance(event, ReportRegistered):
        data = event.model_dump(mode="json", exclude={"children"})
        return ReportState(
            exists=True, data=data, children=tuple(event.children), status="received"
        )
    if isinstance(event, ReportScreened):
        return replace(state, status=event.decision, decision=event.decision, urgency=event.urgency)
    if isinstance(event, ReportAmended):
        return replace(state, data={**state.data, **event.changes})
    if isinstance(event, ScreeningOverdue):
        return replace(state, overdue=True)
    return state  # ReportAccepted changes nothing intake decides on


def report_state(events: list[DomainEvent]) -> ReportState:
    state = ReportState()
    for event in events:
        state = evolve_report(state, event)
    return state


# -- children ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChildState:
    exists: bool = False
    child_id: str = ""
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


def decide_child(state: ChildState, command: RecordChild | ResolveDuplicate) -> list[DomainEvent]:
    if isinstance(command, RecordChild):
        if state.exists:
            return []  # a retried registration: the record is already there
        # Suggestions only: never merged automatically, a person decides.
        return [command.event, *command.suggestions]
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


def evolve_child(state: ChildState, event: DomainEvent) -> ChildState:
    if isinstance(event, ChildRecorded):
        return ChildState(exists=True, child_id=event.child_id)
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


def decide_complaint(exists: bool, event: ComplaintFiled) -> list[DomainEvent]:
    if exists:
        return []
    return [event]
