"""A report's decisions: registration, screening, amendment and the screening deadlines
it runs against."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

from contracts.intake import (
    AcceptedChild,
    ReportAccepted,
    ReportAmended,
    ReportedChild,
    ReportRegistered,
    ReportScreened,
    RescreeningOverdue,
    ScreeningOverdue,
)
from services.intake.domain.children import age_range
from services.intake.domain.timestamps import iso, parse_time
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


# Hours a screener has to screen again a report that waited for more information, counted
# from that screening. Shorter than the first deadlines (24 h / 72 h / 7 days from receipt):
# the report has already waited, and the missing piece is usually one call back; a child
# reported in an emergency should not wait another full day.
RESCREEN_HOURS = {"emergency": 12, "high": 48, "normal": 120}


def deadline_for(received_at: datetime, urgency: str) -> datetime:
    """Urgency deadlines run from the moment the report was received (domain reference)."""
    return received_at + timedelta(hours=codes().urgency_hours[urgency])


def rescreen_deadline(screened_at: datetime, urgency: str) -> datetime:
    hours = RESCREEN_HOURS.get(urgency, codes().urgency_hours[urgency])
    return screened_at + timedelta(hours=hours)


def accepted_child(child: ReportedChild, received: date, child_id: str) -> AcceptedChild:
    known = age_range(child, received)
    age = known[0] if known and known[0] == known[1] else None
    band = codes().age_band(age)
    if known and age is None and codes().age_band(known[0]) == codes().age_band(known[1]):
        band = codes().age_band(known[0])  # a range inside one band still counts there
    return AcceptedChild(child_id=child_id, sex=child.sex, age_years=age, age_band=band)


@dataclass(frozen=True)
class ReportState:
    exists: bool = False
    data: dict[str, Any] = field(default_factory=dict)  # registered fields, amended
    children: tuple[ReportedChild, ...] = ()
    status: str = "new"  # received, screened decisions, or new
    decision: str | None = None
    urgency: str | None = None
    overdue: bool = False
    rescreen_by: datetime | None = None  # while waiting for more information
    rescreen_flagged: datetime | None = None  # the re-screen deadline already flagged

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
    # The child records as they now read (corrected since the report), by child id: casework
    # gets the corrected sex and age band, not what the caller first guessed.
    current_children: dict[str, ReportedChild] = field(default_factory=dict)


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
    rescreen = (
        rescreen_deadline(cmd.now, cmd.urgency) if cmd.decision == "more_information" else None
    )
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
            rescreen_by=iso(rescreen) if rescreen else None,
        )
    ]
    if cmd.decision == "protection_concern":
        received = state.received_at.date()
        events.append(
            ReportAccepted(
                report_id=report_id,
                children=[
                    accepted_child(
                        cmd.current_children.get(c.child_id, c),
                        received,
                        cmd.canonical_children.get(c.child_id, c.child_id),
                    )
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
    report_id = str(state.data["report_id"])
    urgency = state.urgency or str(state.data["urgency"])
    if state.decision is None:
        # A report nobody has screened yet is overdue once per report.
        if state.overdue or cmd.now <= state.deadline:
            return []
        return [
            ScreeningOverdue(report_id=report_id, urgency=urgency, deadline=iso(state.deadline))
        ]
    # Waiting for more information: once per re-screen deadline, since each new
    # "more information" screening sets a new one.
    due = state.rescreen_by
    if due is None or state.decision != "more_information" or cmd.now <= due:
        return []
    if state.rescreen_flagged == due:
        return []
    return [RescreeningOverdue(report_id=report_id, urgency=urgency, deadline=iso(due))]


def evolve_report(state: ReportState, event: DomainEvent) -> ReportState:
    if isinstance(event, ReportRegistered):
        data = event.model_dump(mode="json", exclude={"children"})
        return ReportState(
            exists=True, data=data, children=tuple(event.children), status="received"
        )
    if isinstance(event, ReportScreened):
        rescreen_by = None
        if event.decision == "more_information":
            # Screenings stored before re-screen deadlines existed carry none: derive it.
            rescreen_by = (
                parse_time(event.rescreen_by)
                if event.rescreen_by
                else rescreen_deadline(parse_time(event.screened_at), event.urgency)
            )
        return replace(
            state,
            status=event.decision,
            decision=event.decision,
            urgency=event.urgency,
            rescreen_by=rescreen_by,
        )
    if isinstance(event, ReportAmended):
        return replace(state, data={**state.data, **event.changes})
    if isinstance(event, ScreeningOverdue):
        return replace(state, overdue=True)
    if isinstance(event, RescreeningOverdue):
        return replace(state, rescreen_flagged=parse_time(event.deadline))
    return state  # ReportAccepted changes nothing intake decides on


def report_state(events: list[DomainEvent]) -> ReportState:
    state = ReportState()
    for event in events:
        state = evolve_report(state, event)
    return state
