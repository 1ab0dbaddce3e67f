"""Periodic reports as aggregates on AUDIT: a definition (defined, then perhaps retired) and
each period's publication (published, then perhaps revised). Pure state and decisions."""

from __future__ import annotations

from dataclasses import dataclass, replace

from contracts.reporting import (
    StatisticalReportDefined,
    StatisticalReportPublished,
    StatisticalReportRetired,
    StatisticalReportRevised,
)
from shared.domain import DomainError
from shared.events import DomainEvent


@dataclass(frozen=True)
class Definition:
    exists: bool = False
    retired: bool = False


def evolve_definition(state: Definition, event: DomainEvent) -> Definition:
    if isinstance(event, StatisticalReportDefined):
        return Definition(exists=True)
    if isinstance(event, StatisticalReportRetired):
        return replace(state, retired=True)
    return state


def retire(
    state: Definition, retired: StatisticalReportRetired, refusal: DomainError
) -> list[DomainEvent]:
    """A series ends once: ``refusal`` says so (with when) if it already did."""
    if state.retired:
        raise refusal
    return [retired]


@dataclass(frozen=True)
class Publication:
    exists: bool = False
    revision: int = 0


def evolve_publication(state: Publication, event: DomainEvent) -> Publication:
    if isinstance(event, StatisticalReportPublished):
        return Publication(exists=True)
    if isinstance(event, StatisticalReportRevised):
        return replace(state, revision=event.revision)
    return state


def publish(state: Publication, published: StatisticalReportPublished) -> list[DomainEvent]:
    """A period is published once; another instance may have done it already."""
    return [] if state.exists else [published]


def revise(state: Publication, revised: StatisticalReportRevised) -> list[DomainEvent]:
    """The next revision, unless another instance stored it (or a later one) already."""
    return [revised] if state.exists and state.revision < revised.revision else []
