"""Child records as the duplicate matcher sees them: a ``Profile`` from a reported child or
from a row of the children table, with the names file this process was configured with."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from contracts.intake import ReportedChild
from services.intake.config import name_knowledge
from services.intake.domain import age_range, parse_time
from services.intake.domain.matching import Profile, birth_window, blocking_keys, profile
from shared.reference import locations


def department(commune: str) -> str | None:
    if commune == "unknown" or commune not in locations().areas:
        return None
    return locations().parent_of(commune)


def child_profile(
    child: ReportedChild,
    *,
    commune: str,
    received_at: str,
    report_id: str | None,
    reporter: Mapping[str, Any] | None = None,
) -> Profile:
    received = parse_time(received_at).date()
    ages = age_range(child, received)
    dob = date.fromisoformat(child.date_of_birth) if child.date_of_birth else None
    born = birth_window(received, dob, ages[0] if ages else None, ages[1] if ages else None)
    reporter = reporter or {}
    return profile(
        name_knowledge(),
        child.child_id,
        name=child.name,
        alias=child.alias,
        sex=child.sex,
        born=born,
        commune=commune,
        department=department(commune),
        ages=ages,
        exact_birth=dob is not None,
        report_id=report_id,
        reporter_name=reporter.get("name"),
        reporter_contact=reporter.get("contact"),
        whereabouts=child.whereabouts,
        year=received.year,
    )


def row_profile(row: Any) -> Profile:
    """A row of the candidate query: the child's columns and its report's reporter."""
    return child_profile(
        ReportedChild.model_validate(row.details),
        commune=row.commune,
        received_at=row.received_at.isoformat(),
        report_id=row.report_id,
        reporter=row.reporter,
    )


def stored_keys(child: ReportedChild, received_at: str) -> list[str]:
    """The blocking keys a child record is indexed by."""
    p = child_profile(child, commune="unknown", received_at=received_at, report_id=None)
    return blocking_keys(name_knowledge(), p)
