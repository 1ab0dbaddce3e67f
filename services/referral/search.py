"""Who can provide a service for this child, near here, today: a pure filter and ranking.

Order, as workers asked for it: a unit with a free place first (a full shelter is no answer
at 2 a.m.), then the same commune, then the same department, then the better fit (speaks
the child's language, specialised in the child's age), then more free places."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time

from shared.reference import Locations

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class UnitEntry:
    unit_id: str
    name: str
    agency_id: str
    commune: str
    service_kinds: tuple[str, ...]
    opening_hours: dict[str, list[str]]
    languages: tuple[str, ...]
    min_age: int
    max_age: int
    sexes: tuple[str, ...]
    available: int


@dataclass(frozen=True)
class Need:
    service_kind: str
    age: int | None = None
    sex: str | None = None
    near: str | None = None  # a commune or department code
    language: str | None = None
    on: datetime | None = None  # "today": the unit must open on this day


@dataclass(frozen=True)
class Candidate:
    unit: UnitEntry
    same_commune: bool
    same_department: bool
    fit: int


def parse_interval(text: str) -> tuple[time, time]:
    """``"08:00-17:30"``; raises ValueError for anything else (the API words the error)."""
    start, sep, end = text.partition("-")
    if not sep:
        raise ValueError(text)
    opens, closes = time.fromisoformat(start.strip()), time.fromisoformat(end.strip())
    if len(start.strip()) != 5 or len(end.strip()) != 5 or closes <= opens:
        raise ValueError(text)
    return opens, closes


def opens_on(unit: UnitEntry, day: datetime) -> bool:
    return bool(unit.opening_hours.get(WEEKDAYS[day.weekday()]))


def accepts(unit: UnitEntry, need: Need) -> bool:
    if need.service_kind not in unit.service_kinds:
        return False
    if need.age is not None and not unit.min_age <= need.age <= unit.max_age:
        return False
    if need.sex is not None and unit.sexes and need.sex not in unit.sexes:
        return False
    return need.on is None or opens_on(unit, need.on)


def _department(locations: Locations, code: str | None) -> str | None:
    if code is None or code not in locations.areas:
        return None
    return locations.top_level_of(code)


def rank(units: list[UnitEntry], need: Need, locations: Locations) -> list[Candidate]:
    near_department = _department(locations, need.near)
    candidates = []
    for unit in units:
        if not accepts(unit, need):
            continue
        fit = 0
        if need.language is not None and need.language in unit.languages:
            fit += 2
        if need.age is not None and unit.max_age - unit.min_age <= 10:
            fit += 1  # a unit for adolescents fits a 14-year-old better than one for all ages
        candidates.append(
            Candidate(
                unit=unit,
                same_commune=need.near is not None and unit.commune == need.near,
                same_department=near_department is not None
                and _department(locations, unit.commune) == near_department,
                fit=fit,
            )
        )
    candidates.sort(
        key=lambda c: (
            c.unit.available <= 0,
            not c.same_commune,
            not c.same_department,
            -c.fit,
            -c.unit.available,
            c.unit.name,
        )
    )
    return candidates
