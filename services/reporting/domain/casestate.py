"""What a case was at a given instant, from its recorded changes. Pure functions."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime


@dataclass(frozen=True)
class Change:
    seq: int
    at: datetime
    kind: str  # opened, stage, risk, assigned, transfer, closed, reopened
    stage: str | None = None
    risk: str | None = None
    worker: str | None = None
    agency: str | None = None
    reason: str | None = None
    qualified: bool | None = None


@dataclass(frozen=True)
class CaseAt:
    open: bool = False
    stage: str = "registration"
    risk: str = "low"
    agency: str = ""
    worker: str | None = None
    qualified: bool | None = None


def evolve(state: CaseAt, change: Change) -> CaseAt:
    if change.kind == "opened":
        return CaseAt(
            open=True,
            stage=change.stage or "registration",
            risk=change.risk or "low",
            agency=change.agency or "",
        )
    if change.kind == "stage" and change.stage:
        return replace(state, stage=change.stage)
    if change.kind == "risk" and change.risk:
        return replace(state, risk=change.risk)
    if change.kind == "assigned":
        return replace(state, worker=change.worker, qualified=change.qualified)
    if change.kind == "transfer":
        # The receiving agency chooses its own worker: casework clears the assignment.
        return replace(state, agency=change.agency or state.agency, worker=None, qualified=None)
    if change.kind == "closed":
        return replace(state, open=False, stage="closure")
    if change.kind == "reopened":
        return replace(state, open=True, stage=change.stage or "initial_assessment")
    return state


def states_at(changes: Iterable[Change], instants: Sequence[datetime]) -> list[CaseAt]:
    """The case's state just before each of ``instants`` (which must be in order): what a
    report for the period ending then shows."""
    ordered = sorted(changes, key=lambda c: c.seq)  # one aggregate: stream order is its order
    states: list[CaseAt] = []
    state = CaseAt()
    index = 0
    for instant in instants:
        while index < len(ordered) and ordered[index].at < instant:
            state = evolve(state, ordered[index])
            index += 1
        states.append(state)
    return states
