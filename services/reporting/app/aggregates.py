"""Reporting's own aggregates on AUDIT as the application layer loads them: periodic report
definitions and their publications."""

from __future__ import annotations

from services.reporting.domain.definitions import (
    Definition,
    Publication,
    evolve_definition,
    evolve_publication,
)
from shared.commands import AggregateKind
from shared.i18n import Message
from shared.recorded import RecordedEvent


def _definition(state: Definition, recorded: RecordedEvent) -> Definition:
    return evolve_definition(state, recorded.event)


def _publication(state: Publication, recorded: RecordedEvent) -> Publication:
    return evolve_publication(state, recorded.event)


DEFINITION = AggregateKind(
    "audit",
    "statdefinition",
    Definition(),
    _definition,
    not_found=Message(en="No such statistical report.", fr="Aucun rapport statistique de ce nom."),
    not_found_code="report_not_found",
)
PUBLICATION = AggregateKind("audit", "statreport", Publication(), _publication)
