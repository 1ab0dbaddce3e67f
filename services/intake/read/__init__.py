"""Intake's read model: reports (for lists, filters and the overdue policies), child records
(for duplicate matching and search), suggestions, links, complaints, the child records
still owed (pending children) and the corrections casework reported (pending corrections).

All intake events live on one stream, so a report's events arrive here in order; a child
record and its report are different aggregates and each handler stands on its own.

Beside it, two projections of other contexts' events: the service directory
(``directory.py``, from referral) and which agency owns each case and what it holds
(``ownership.py``, from casework).

The main read model is one projection, ``intake.main``, whatever the number of modules:
the tables and the :class:`Projection` are in :mod:`.tables`, the handlers in one module per
aggregate. Those modules register their handlers when imported, so importing this package
(as the service wiring does) is what makes the projection complete."""

from __future__ import annotations

from services.intake.read import (  # noqa: F401  (imported for their handlers)
    child_handlers,
    complaint_handlers,
    registrations,
    report_handlers,
)
from services.intake.read.directory import directory_projection
from services.intake.read.ownership import ownership_projection
from services.intake.read.tables import (
    child_keys,
    children,
    complaints,
    links,
    match_weights,
    metadata,
    pending_children,
    pending_corrections,
    projection,
    reports,
    suggestions,
)

__all__ = [
    "child_keys",
    "children",
    "complaints",
    "directory_projection",
    "links",
    "match_weights",
    "metadata",
    "ownership_projection",
    "pending_children",
    "pending_corrections",
    "projection",
    "reports",
    "suggestions",
]
