"""Intake's aggregates as the application layer loads them: where each lives on the log and
how its state is folded from its events (the domain's ``evolve``)."""

from __future__ import annotations

from services.intake.domain import (
    NO_COMPLAINT,
    ChildState,
    ComplaintState,
    ReportState,
    evolve_child,
    evolve_complaint,
    evolve_report,
)
from shared.commands import AggregateKind
from shared.recorded import RecordedEvent


def _report(state: ReportState, recorded: RecordedEvent) -> ReportState:
    return evolve_report(state, recorded.event)


def _child(state: ChildState, recorded: RecordedEvent) -> ChildState:
    return evolve_child(state, recorded.event)


def _complaint(state: ComplaintState, recorded: RecordedEvent) -> ComplaintState:
    return evolve_complaint(state, recorded.event)


def _matcher(state: int, recorded: RecordedEvent) -> int:
    return state + 1  # how many weights were estimated: nothing else is decided on


REPORT = AggregateKind("intake", "report", ReportState(), _report)
CHILD = AggregateKind("intake", "child", ChildState(), _child)
# The duplicate matcher's weights in force: one aggregate, ``weights``.
MATCHER = AggregateKind("intake", "matcher", 0, _matcher)
COMPLAINT = AggregateKind(
    "intake", "complaint", ComplaintState(), _complaint, not_found=NO_COMPLAINT
)
