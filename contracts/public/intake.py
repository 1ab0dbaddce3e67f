"""Intake's events as integrators see them. Reports are counted and followed, never described:
no reporter, no narrative, no child's details (a child's sex and age band travel once, on
casework's CaseOpened). Child records, their corrections, suggested or rejected duplicates and
complaints are not published at all (decision 0021)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from contracts import intake as ev
from contracts.public.base import (
    Channel,
    Code,
    Concern,
    Department,
    Pseudonym,
    Publication,
    PublicEvent,
    Urgency,
    fixed,
    public_event,
)

ScreeningDecision = Annotated[
    str,
    Code(
        fixed("protection_concern", "not_a_concern", "redirect", "more_information"),
        "other",
        "What the screener decided",
    ),
]
ReportField = Annotated[
    str, Code(lambda: ev.ReportRegistered.model_fields, "other", "A field of the registered report")
]


@public_event(ev.ReportRegistered)
class ReportRegistered(PublicEvent):
    report: Pseudonym
    agency: Pseudonym
    unit: Pseudonym | None
    channel: Channel
    received_on: date | None
    department: Department
    concerns: list[Concern]
    children: int
    unidentified_children: int
    immediate_danger: bool
    urgency: Urgency

    @classmethod
    def of(cls, e: ev.ReportRegistered, c: Publication) -> ReportRegistered:
        return cls(
            report=c.p("report", e.report_id),
            agency=c.p("agency", e.agency),
            unit=c.maybe("unit", e.unit),
            channel=e.channel,
            received_on=c.day(e.received_at),
            department=c.department(e.commune),
            concerns=e.concerns,
            children=len(e.children),
            unidentified_children=sum(1 for child in e.children if child.unidentified),
            immediate_danger=e.immediate_danger,
            urgency=e.urgency,
        )


@public_event(ev.ReportScreened)
class ReportScreened(PublicEvent):
    report: Pseudonym
    decision: ScreeningDecision
    urgency: Urgency
    deadline_on: date | None
    screened_on: date | None
    within_deadline: bool
    rescreen_by: date | None

    @classmethod
    def of(cls, e: ev.ReportScreened, c: Publication) -> ReportScreened:
        return cls(
            report=c.p("report", e.report_id),
            decision=e.decision,
            urgency=e.urgency,
            deadline_on=c.day(e.deadline),
            screened_on=c.day(e.screened_at),
            within_deadline=e.within_deadline,
            rescreen_by=c.day(e.rescreen_by),
        )


@public_event(
    ev.ReportAmended,
    en="A report was corrected: which fields changed (never their values).",
    fr="Un signalement a été corrigé : les champs modifiés (jamais leurs valeurs).",
)
class ReportAmended(PublicEvent):
    report: Pseudonym
    fields: list[ReportField]

    @classmethod
    def of(cls, e: ev.ReportAmended, c: Publication) -> ReportAmended:
        return cls(report=c.p("report", e.report_id), fields=e.fields)


@public_event(ev.ScreeningOverdue)
class ScreeningOverdue(PublicEvent):
    report: Pseudonym
    urgency: Urgency
    deadline_on: date | None

    @classmethod
    def of(cls, e: ev.ScreeningOverdue, c: Publication) -> ScreeningOverdue:
        return cls(
            report=c.p("report", e.report_id), urgency=e.urgency, deadline_on=c.day(e.deadline)
        )


@public_event(ev.RescreeningOverdue)
class RescreeningOverdue(PublicEvent):
    report: Pseudonym
    urgency: Urgency
    deadline_on: date | None

    @classmethod
    def of(cls, e: ev.RescreeningOverdue, c: Publication) -> RescreeningOverdue:
        return cls(
            report=c.p("report", e.report_id), urgency=e.urgency, deadline_on=c.day(e.deadline)
        )


@public_event(ev.ReportAccepted)
class ReportAccepted(PublicEvent):
    report: Pseudonym
    children: list[Pseudonym]
    concerns: list[Concern]
    urgency: Urgency
    department: Department
    agency: Pseudonym
    unit: Pseudonym | None
    received_on: date | None
    accepted_on: date | None
    immediate_danger: bool

    @classmethod
    def of(cls, e: ev.ReportAccepted, c: Publication) -> ReportAccepted:
        return cls(
            report=c.p("report", e.report_id),
            children=[c.p("child", child.child_id) for child in e.children],
            concerns=e.concerns,
            urgency=e.urgency,
            department=c.department(e.commune),
            agency=c.p("agency", e.agency),
            unit=c.maybe("unit", e.unit),
            received_on=c.day(e.received_at),
            accepted_on=c.day(e.accepted_at),
            immediate_danger=e.immediate_danger,
        )


@public_event(
    ev.DuplicateConfirmed,
    en="A person confirmed that two child records are the same child (so integrators count "
    "the child once).",
    fr="Une personne a confirmé que deux fiches désignent le même enfant (les intégrateurs le "
    "comptent une fois).",
)
class DuplicateConfirmed(PublicEvent):
    child: Pseudonym
    same_as: Pseudonym

    @classmethod
    def of(cls, e: ev.DuplicateConfirmed, c: Publication) -> DuplicateConfirmed:
        return cls(child=c.p("child", e.child_id), same_as=c.p("child", e.candidate_id))
