"""What every loader reads into a record: a commune's place in the hierarchy, the hours between
two moments, a query's range as instants, the one id of a child recorded twice, and a case's
dimensions."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from services.reporting.domain.dimensions import TRAFFICKING_PREFIX, UNKNOWN
from services.reporting.domain.periods import day_start
from services.reporting.domain.query import Query, Record, Value
from shared.reference import locations

Loader = Callable[[AsyncConnection, Query], Awaitable[list[Record]]]


def place(commune: str | None) -> dict[str, str]:
    """Commune and department of a location code; ``unknown`` for anything the configured
    hierarchy does not hold."""
    areas = locations().areas
    if not commune or commune not in areas:
        return {"commune": UNKNOWN, "department": UNKNOWN}
    area = areas[commune]
    return {
        "commune": commune if area.level > 0 else UNKNOWN,
        "department": locations().top_level_of(commune),
    }


def hours(start: datetime, end: datetime) -> float:
    return max(0.0, (end - start).total_seconds() / 3600)


def bounds(query: Query) -> tuple[datetime, datetime]:
    return day_start(query.start), day_start(query.end + timedelta(days=1))


def canonical_children(links: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Child records confirmed to be the same child, each mapped to one id (the smallest of
    its group), so they count once."""
    parent: dict[str, str] = {}

    def root(x: str) -> str:
        while parent.get(x, x) != x:
            parent[x] = parent.get(parent[x], parent[x])
            x = parent[x]
        return x

    for a, b in links:
        parent.setdefault(a, a)
        parent.setdefault(b, b)
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {x: root(x) for x in parent}


def concerns_of(values: Any, only_trafficking: bool = False) -> tuple[str, ...]:
    concerns = tuple(str(v) for v in (values or []))
    if only_trafficking:
        concerns = tuple(c for c in concerns if c.startswith(TRAFFICKING_PREFIX))
    return concerns or (UNKNOWN,)


def case_dims(row: Any, only_trafficking: bool = False) -> dict[str, Value]:
    return {
        "sex": row.sex,
        "age_band": row.age_band,
        "concern": concerns_of(row.concerns, only_trafficking),
        "agency": row.agency,
        "urgency": row.urgency,
        **place(row.commune),
    }
