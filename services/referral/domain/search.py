"""Who can provide a service for this child, near here, today: a pure filter and ranking.

Order, as workers asked for it: a unit open at the time asked about first (at 2 a.m. only a
unit that answers its door can take a child tonight, even beyond its capacity with an
override), then a unit with a free place (a full shelter is no answer either), then the same
commune, then the same department, then the better fit (speaks the child's language,
specialised in the child's age), then more free places.

Times given here are already in the country's time zone: the weekday and the time of day
are read off them as they are (the API converts)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from shared.reference import Locations

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_MINUTES = 24 * 60


@dataclass(frozen=True)
class Interval:
    """Minutes from midnight. ``closes`` may be 1440 ("24:00"); an interval whose closing
    time is not after its opening time runs past midnight into the next day (as in
    OpenStreetMap's opening_hours: "20:00-08:00" on a Monday ends on Tuesday at 08:00)."""

    opens: int
    closes: int

    @property
    def overnight(self) -> bool:
        return self.closes <= self.opens

    def covers(self, minute: int) -> bool:
        """Open at ``minute`` of the day the interval starts on."""
        if self.overnight:
            return minute >= self.opens
        return self.opens <= minute < self.closes

    def spills_over(self, minute: int) -> bool:
        """Open at ``minute`` of the following day (the part after midnight)."""
        return self.overnight and minute < self.closes


def _minutes(text: str, *, end: bool) -> int:
    text = text.strip()
    if len(text) != 5 or text[2] != ":":
        raise ValueError(text)
    if end and text == "24:00":
        return DAY_MINUTES
    moment = time.fromisoformat(text)
    return moment.hour * 60 + moment.minute


def parse_interval(text: str) -> Interval:
    """``"08:00-17:30"``, ``"20:00-08:00"`` (overnight) or ``"00:00-24:00"`` (all day);
    raises ValueError for anything else (the API words the error). An interval that opens
    and closes at the same minute says nothing and is refused."""
    start, sep, finish = text.partition("-")
    if not sep:
        raise ValueError(text)
    interval = Interval(_minutes(start, end=False), _minutes(finish, end=True))
    if interval.opens == interval.closes:
        raise ValueError(text)
    return interval


def _intervals(hours: dict[str, list[str]], day: str) -> list[Interval]:
    found = []
    for text in hours.get(day, []):
        try:
            found.append(parse_interval(text))
        except ValueError:
            continue  # checked when the unit was described; an older entry counts as closed
    return found


def _day(moment: datetime) -> str:
    return WEEKDAYS[moment.weekday()]


def _previous_day(moment: datetime) -> str:
    return WEEKDAYS[(moment - timedelta(days=1)).weekday()]


def is_open(hours: dict[str, list[str]], at: datetime) -> bool:
    """Open at the local time ``at``, counting the previous evening's overnight interval."""
    minute = at.hour * 60 + at.minute
    if any(i.covers(minute) for i in _intervals(hours, _day(at))):
        return True
    return any(i.spills_over(minute) for i in _intervals(hours, _previous_day(at)))


def opens_on(hours: dict[str, list[str]], day: datetime) -> bool:
    """Open at some time of the local calendar day of ``day``, the small hours included."""
    if _intervals(hours, _day(day)):
        return True
    return any(i.overnight and i.closes > 0 for i in _intervals(hours, _previous_day(day)))


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
    on: datetime | None = None  # "today": the unit must open on this (local) day
    at: datetime | None = None  # "now": a unit open at this (local) time ranks first


@dataclass(frozen=True)
class Candidate:
    unit: UnitEntry
    same_commune: bool
    same_department: bool
    fit: int
    open_now: bool | None = None  # None: no time asked about


def accepts(unit: UnitEntry, need: Need) -> bool:
    if need.service_kind not in unit.service_kinds:
        return False
    if need.age is not None and not unit.min_age <= need.age <= unit.max_age:
        return False
    if need.sex is not None and unit.sexes and need.sex not in unit.sexes:
        return False
    return need.on is None or opens_on(unit.opening_hours, need.on)


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
                open_now=None if need.at is None else is_open(unit.opening_hours, need.at),
            )
        )
    candidates.sort(
        key=lambda c: (
            c.open_now is False,
            c.unit.available <= 0,
            not c.same_commune,
            not c.same_department,
            -c.fit,
            -c.unit.available,
            c.unit.name,
        )
    )
    return candidates
