"""Calendar periods (day, month, quarter, year): their keys, bounds and the local day of an
instant. Pure functions.

Periods are calendar periods of the country's time zone (``RELAIS_TIME_ZONE``): a report
received at 23:30 UTC on 31 December is a January report in Benin (UTC+1)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import cache
from zoneinfo import ZoneInfo

from shared.config import get_settings

PERIOD_KINDS: tuple[str, ...] = ("day", "month", "quarter", "year")
REPORT_PERIOD_KINDS: tuple[str, ...] = ("month", "quarter", "year")


@cache
def time_zone() -> tzinfo:
    return ZoneInfo(get_settings().time_zone)


def local_day(moment: datetime, tz: tzinfo | None = None) -> date:
    return moment.astimezone(tz or time_zone()).date()


def day_start(day: date, tz: tzinfo | None = None) -> datetime:
    """The instant a local day begins, in UTC."""
    return datetime.combine(day, time(0), tzinfo=tz or time_zone()).astimezone(UTC)


@dataclass(frozen=True, order=True)
class Period:
    start: date
    end: date  # inclusive
    key: str


def period_of(day: date, kind: str) -> Period:
    if kind == "day":
        return Period(day, day, day.isoformat())
    if kind == "month":
        start = day.replace(day=1)
        return Period(start, _next_month(start) - timedelta(days=1), f"{day:%Y-%m}")
    if kind == "quarter":
        quarter = (day.month - 1) // 3
        start = date(day.year, quarter * 3 + 1, 1)
        end = _next_month(_next_month(_next_month(start))) - timedelta(days=1)
        return Period(start, end, f"{day.year}-Q{quarter + 1}")
    if kind == "year":
        return Period(date(day.year, 1, 1), date(day.year, 12, 31), f"{day.year}")
    raise ValueError(f"unknown period kind {kind!r}")


def _next_month(first: date) -> date:
    return date(first.year + first.month // 12, first.month % 12 + 1, 1)


def periods_between(start: date, end: date, kind: str) -> list[Period]:
    """Every period that meets [start, end], in order."""
    out: list[Period] = []
    day = start
    while day <= end:
        period = period_of(day, kind)
        out.append(period)
        day = period.end + timedelta(days=1)
    return out


_KEYS = {
    "day": re.compile(r"^\d{4}-\d{2}-\d{2}$"),
    "month": re.compile(r"^(\d{4})-(\d{2})$"),
    "quarter": re.compile(r"^(\d{4})-Q([1-4])$"),
    "year": re.compile(r"^(\d{4})$"),
}


def parse_period(key: str, kind: str) -> Period:
    """The period a key names (``2026-03``, ``2026-Q1``, ``2026``); ValueError if malformed."""
    pattern = _KEYS.get(kind)
    match = pattern.match(key) if pattern else None
    if match is None:
        raise ValueError(f"not a {kind} key: {key!r}")
    if kind == "day":
        return period_of(date.fromisoformat(key), "day")
    year = int(match.group(1))
    if kind == "month":
        return period_of(date(year, int(match.group(2)), 1), "month")
    if kind == "quarter":
        return period_of(date(year, (int(match.group(2)) - 1) * 3 + 1, 1), "quarter")
    return period_of(date(year, 1, 1), "year")


def kind_of_key(key: str) -> str | None:
    for kind, pattern in _KEYS.items():
        if pattern.match(key):
            return kind
    return None
