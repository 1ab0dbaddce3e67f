"""Intake's decisions, without I/O: ``decide(state, command) -> events`` and
``evolve(state, event) -> state`` for reports (:mod:`.reports`), child records
(:mod:`.children`) and complaints (:mod:`.complaints`).

Input shape (known codes, lengths, dates not in the future) is checked at the API edge; here
are the rules that depend on what already happened to the aggregate.

Callers import from this package, not its modules, so where a rule lives can change freely."""

from __future__ import annotations

from services.intake.domain.children import (
    AGE_FIELDS,
    CORRECTABLE,
    NO_CHILD,
    ChildCommand,
    ChildState,
    CorrectableChildIn,
    CorrectChild,
    RecordChild,
    ResolveDuplicate,
    age_on,
    age_range,
    apply_correction,
    child_from_identified,
    child_state,
    children_of,
    corrected_changes,
    decide_child,
    evolve_child,
)
from services.intake.domain.complaints import (
    NO_COMPLAINT,
    AcknowledgeComplaint,
    ComplaintCommand,
    ComplaintState,
    FileComplaint,
    ResolveComplaint,
    complaint_state,
    decide_complaint,
    evolve_complaint,
)
from services.intake.domain.reports import (
    AMENDABLE,
    DECISIONS,
    FINAL_DECISIONS,
    NOT_FOUND,
    RESCREEN_HOURS,
    AmendReport,
    MarkOverdue,
    RegisterReport,
    ReportCommand,
    ReportState,
    ScreenReport,
    accepted_child,
    deadline_for,
    decide_report,
    evolve_report,
    report_state,
    rescreen_deadline,
)
from services.intake.domain.timestamps import iso, parse_time

# What the decisions raise, so callers that catch it need no second import.
from shared.domain import DomainError

__all__ = [
    "AGE_FIELDS",
    "AMENDABLE",
    "CORRECTABLE",
    "DECISIONS",
    "FINAL_DECISIONS",
    "NOT_FOUND",
    "NO_CHILD",
    "NO_COMPLAINT",
    "RESCREEN_HOURS",
    "AcknowledgeComplaint",
    "AmendReport",
    "ChildCommand",
    "ChildState",
    "ComplaintCommand",
    "ComplaintState",
    "CorrectChild",
    "CorrectableChildIn",
    "DomainError",
    "FileComplaint",
    "MarkOverdue",
    "RecordChild",
    "RegisterReport",
    "ReportCommand",
    "ReportState",
    "ResolveComplaint",
    "ResolveDuplicate",
    "ScreenReport",
    "accepted_child",
    "age_on",
    "age_range",
    "apply_correction",
    "child_from_identified",
    "child_state",
    "children_of",
    "complaint_state",
    "corrected_changes",
    "deadline_for",
    "decide_child",
    "decide_complaint",
    "decide_report",
    "evolve_child",
    "evolve_complaint",
    "evolve_report",
    "iso",
    "parse_time",
    "report_state",
    "rescreen_deadline",
]
