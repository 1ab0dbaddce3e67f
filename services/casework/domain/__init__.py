"""The case's pure domain: state and evolve, commands, decide (mypy strict, no I/O)."""

from services.casework.domain.commands import (
    AddAction,
    AddGoal,
    Assign,
    AttachReport,
    ChangeStage,
    ChildViews,
    Command,
    DecideClosure,
    DetermineBestInterests,
    FlagOverdue,
    OpenCase,
    RecordAssessment,
    Reopen,
    RequestClosure,
)
from services.casework.domain.decide import decide
from services.casework.domain.state import (
    DECISION_KINDS,
    MAJOR_DECISIONS,
    NOT_HEARD_REASONS,
    RISK_LEVELS,
    STAGES,
    CaseState,
    evolve,
    fold,
    initial_risk,
)
from shared.domain import DomainError

__all__ = [
    "DECISION_KINDS",
    "MAJOR_DECISIONS",
    "NOT_HEARD_REASONS",
    "RISK_LEVELS",
    "STAGES",
    "AddAction",
    "AddGoal",
    "Assign",
    "AttachReport",
    "CaseState",
    "ChangeStage",
    "ChildViews",
    "Command",
    "DecideClosure",
    "DetermineBestInterests",
    "DomainError",
    "FlagOverdue",
    "OpenCase",
    "RecordAssessment",
    "Reopen",
    "RequestClosure",
    "decide",
    "evolve",
    "fold",
    "initial_risk",
]
