"""The tables of a periodic report: computing them for a period as any reader but an auditor
sees them, fitting them in one event, and telling which of their figures changed since they
were last published."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.reporting import ReportItem, RevisionChange
from services.reporting.app.compute import (
    Problem,
    compute_answer,
    indicator_named,
    make_query,
)
from services.reporting.domain.periods import Period
from services.reporting.domain.query import TooManyCells
from shared.envelope import Actor

# Publishing and revising append as one system actor: the audit trail names the policy.
POLICY_ACTOR = Actor.system("reporting.statistical-reports")

MAX_PUBLICATION_BYTES = 800_000  # under NATS's default 1 MB message limit, with the envelope
TOO_LARGE = {
    "en": "Too large to publish: break it down less.",
    "fr": "Trop volumineux pour être publié : ventilez moins.",
}
# The parts of an answer that are its figures. The rest (labels, freshness, the legend) may
# change without the figures changing: a renamed agency or a later computation is no revision.
FIGURES = ("rows", "row_totals", "column_totals", "total", "error")


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def fit(tables: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The tables, the largest replaced by a note until the publication fits in one event."""
    sizes = [len(json.dumps(t)) for t in tables]
    for index in sorted(range(len(tables)), key=lambda i: -sizes[i]):
        if sum(sizes) <= MAX_PUBLICATION_BYTES:
            break
        tables[index] = {"indicator": tables[index]["indicator"], "error": TOO_LARGE}
        sizes[index] = len(json.dumps(tables[index]))
    return tables


async def item_tables(
    conn: AsyncConnection, items: Sequence[Mapping[str, Any]], period: Period
) -> list[dict[str, Any]]:
    """Each item's answer for the period, suppressed as for any reader who is not an auditor."""
    tables = []
    for raw in items:
        item = ReportItem.model_validate(raw)
        try:
            query = make_query(
                indicator_named(item.indicator),
                start=period.start,
                end=period.end,
                period=item.period,
                by=item.by,
                filters=item.filters,
                today=period.end,
            )
            tables.append(await compute_answer(conn, query, protect=True))
        except (Problem, TooManyCells) as exc:
            # The definition was valid when made; a filter's agency may since have gone. The
            # report says which table could not be computed rather than not appearing.
            reason = getattr(exc, "message", None)
            tables.append(
                {
                    "indicator": {"code": item.indicator},
                    "error": {"en": reason.en, "fr": reason.fr} if reason else {"en": "", "fr": ""},
                }
            )
    return tables


def facts_positions(tables: Sequence[Mapping[str, Any]], streams: Sequence[str]) -> dict[str, int]:
    """How far the facts had read ``streams`` when the tables were computed ({} if no table
    says: a table that could not be computed has no freshness)."""
    for table in tables:
        fresh = (table.get("freshness") or {}).get("streams") or {}
        if fresh:
            return {s: int((fresh.get(s) or {}).get("last_seq") or 0) for s in streams}
    return {}


def _cells(table: Mapping[str, Any]) -> dict[tuple[Any, ...], Any]:
    """Every figure of a table, keyed by where it is: its part and its dimension values."""
    dims = [d["code"] for d in table.get("dimensions") or []]
    out: dict[tuple[Any, ...], Any] = {}
    for part in FIGURES:
        value = table.get(part)
        entries = value if isinstance(value, list) else [value] if value is not None else []
        for entry in entries:
            if not isinstance(entry, Mapping):
                out[(part,)] = entry
                continue
            where = tuple((d, entry[d]) for d in dims if d in entry)
            out[(part, *where)] = {k: v for k, v in entry.items() if k not in dims}
    return out


def changes(
    before: Sequence[Mapping[str, Any]], after: Sequence[Mapping[str, Any]]
) -> list[RevisionChange]:
    """Per table whose figures differ, how many cells changed, appeared or went: counts only,
    so the summary says where to look and nothing about whom."""
    out = []
    for index, new in enumerate(after):
        old_cells = _cells(before[index]) if index < len(before) else {}
        new_cells = _cells(new)
        keys = old_cells.keys() | new_cells.keys()
        changed = sum(1 for key in keys if old_cells.get(key) != new_cells.get(key))
        if changed:
            code = str((new.get("indicator") or {}).get("code", ""))
            out.append(RevisionChange(table=index, indicator=code, changed_cells=changed))
    return out


# The columns that count people or cases, whatever the measure (see answer.MEASURE_COLUMNS).
COUNT_COLUMNS = ("value", "count", "numerator", "denominator")


def small_differences(
    before: Sequence[Mapping[str, Any]], after: Sequence[Mapping[str, Any]], threshold: int
) -> int:
    """How many counts shown in both editions differ by less than ``threshold`` (but not 0).

    Each edition is suppressed on its own, but a reader holding both can subtract: 31 girls
    where there were 30 says that one late report was about a girl of that commune and that
    age. A revision is held back until every difference is itself at least a publishable
    count (or none), as a cell would be."""
    small = 0
    for index, new in enumerate(after):
        if index >= len(before):
            continue
        old_cells = _cells(before[index])
        for key, new_value in _cells(new).items():
            old_value = old_cells.get(key)
            if not (isinstance(old_value, Mapping) and isinstance(new_value, Mapping)):
                continue
            for column in COUNT_COLUMNS:
                a, b = old_value.get(column), new_value.get(column)
                if isinstance(a, int) and isinstance(b, int) and 0 < abs(b - a) < threshold:
                    small += 1
    return small
