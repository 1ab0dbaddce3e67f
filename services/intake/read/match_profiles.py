"""Child records as the duplicate matcher sees them: a ``Profile`` from a reported child or
from a row of the children table, with the names file this process was configured with."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Mapping
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


# Registrations in one area keep meeting the same candidates: building a candidate's profile
# (validating its details, folding and coding its names) was a third of the matcher's time.
# A child row changes only with its version, and its reporter only with the report's reporter
# (a report correction), so both are in the key. Held in this process's memory only.
ROW_PROFILES_KEPT = 20_000
_row_profiles: OrderedDict[Hashable, Profile] = OrderedDict()


def _reporter_key(reporter: Mapping[str, Any] | None) -> Hashable:
    return (reporter.get("name"), reporter.get("contact")) if reporter else None


def _row_key(row: Any) -> Hashable:
    return (row.child_id, row.version, row.commune, _reporter_key(row.reporter))


def _remembered(key: Hashable) -> Profile | None:
    known = _row_profiles.get(key)
    if known is not None:
        _row_profiles.move_to_end(key)
    return known


def known_profile(row: Any) -> Profile | None:
    """The profile remembered for a row of the candidate query, if its child and reporter
    have not changed since; the row needs no ``details`` for this."""
    return _remembered(_row_key(row))


def row_profile(row: Any) -> Profile:
    """A row of the candidate query with its ``details``: the child's columns and its
    report's reporter."""
    key = _row_key(row)
    known = _remembered(key)
    if known is not None:
        return known
    made = child_profile(
        ReportedChild.model_validate(row.details),
        commune=row.commune,
        received_at=row.received_at.isoformat(),
        report_id=row.report_id,
        reporter=row.reporter,
    )
    _row_profiles[key] = made
    if len(_row_profiles) > ROW_PROFILES_KEPT:
        _row_profiles.popitem(last=False)
    return made


def stored_keys(child: ReportedChild, received_at: str) -> list[str]:
    """The blocking keys a child record is indexed by."""
    p = child_profile(child, commune="unknown", received_at=received_at, report_id=None)
    return blocking_keys(name_knowledge(), p)
