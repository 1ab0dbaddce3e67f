"""Aggregation: from fact records to a table of cells and totals. Pure functions.

A record is one counted thing (a report, a case, a child's service, a referral, a worker)
with the values it has for each dimension and the day that places it in a period. A cell
counts the distinct things that fall in it, so a child served twice in a month counts once in
that month, and a total counts each thing once even when a record sits in several cells (a
report with two concerns).

Every table is two-dimensional: the last dimension is the columns, the others together make
the rows. That is also the shape the published totals have (per row, per column, overall),
which is what small-cell suppression protects.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from services.reporting.domain.dimensions import DIMENSIONS
from services.reporting.domain.indicator import Indicator
from services.reporting.domain.periods import Period, period_of, periods_between

Value = str | tuple[str, ...]
OUTCOME = "outcome"
MET, NOT_MET = "met", "not_met"
MAX_CELLS = 5000  # beyond this a table is unreadable, and suppressing it slow


class TooManyCells(ValueError):
    pass


@dataclass(frozen=True)
class Record:
    unit: str
    day: date
    dims: Mapping[str, Value]
    value: float = 0.0  # a duration in hours, a worker's caseload
    outcome: bool | None = None  # for shares: counted in the numerator or not


@dataclass(frozen=True)
class Query:
    indicator: Indicator
    start: date
    end: date  # inclusive
    period: str | None = None
    by: tuple[str, ...] = ()
    filters: Mapping[str, frozenset[str]] = field(default_factory=dict)

    @property
    def dims(self) -> tuple[str, ...]:
        dims = (("period",) if self.period else ()) + self.by
        if self.indicator.measure == "share":
            dims += (OUTCOME,)
        return dims

    def periods(self) -> list[Period]:
        """The periods asked for; without a breakdown by period, the range is one period."""
        if self.period:
            return periods_between(self.start, self.end, self.period)
        return [Period(self.start, self.end, f"{self.start}/{self.end}")]


def values_of(record: Record, dim: str) -> tuple[str, ...]:
    value = record.dims.get(dim, "unknown")
    if isinstance(value, tuple):
        return tuple(dict.fromkeys(value)) or ("unknown",)
    return (value,)


def apply_filters(records: Iterable[Record], filters: Mapping[str, frozenset[str]]) -> list[Record]:
    """Keep the records with a wanted value in every filtered dimension. A record with
    several values keeps only the wanted ones: trafficking cases by concern show trafficking
    concerns, not every other concern those cases also have."""
    kept = []
    for record in records:
        dims = dict(record.dims)
        for dim, wanted in filters.items():
            values = tuple(v for v in values_of(record, dim) if v in wanted)
            if not values:
                break
            if isinstance(record.dims.get(dim), tuple):
                dims[dim] = values
        else:
            kept.append(Record(record.unit, record.day, dims, record.value, record.outcome))
    return kept


@dataclass
class Cell:
    """The distinct things in a cell, each with its value. A thing met twice keeps its larger
    value: a worker's caseload at several period ends is not a caseload of their sum."""

    units: dict[str, float] = field(default_factory=dict)

    def add(self, unit: str, value: float) -> None:
        self.units[unit] = max(self.units.get(unit, value), value)

    @property
    def count(self) -> int:
        return len(self.units)

    def stats(self) -> dict[str, float]:
        values = sorted(self.units.values())
        if not values:
            return {}
        return {
            "mean": round(sum(values) / len(values), 1),
            "median": round(quantile(values, 0.5), 1),
            "p90": round(quantile(values, 0.9), 1),
            "max": round(values[-1], 1),
        }


def quantile(ordered: Sequence[float], q: float) -> float:
    """Linear interpolation between the closest ranks (the usual definition, as in numpy)."""
    if not ordered:
        return math.nan
    position = (len(ordered) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass
class Table:
    dims: tuple[str, ...]
    rows: list[tuple[str, ...]]  # the values of every dimension but the last
    columns: list[str]  # the values of the last dimension ("" when there is none)
    cells: dict[tuple[int, int], Cell]
    row_totals: list[Cell]
    column_totals: list[Cell]
    total: Cell

    def cell(self, row: int, column: int) -> Cell:
        return self.cells.get((row, column)) or Cell()

    def grid(self) -> list[list[int]]:
        """Counts with their totals: one line per row with its total last, then the column
        totals with the overall total last (the shape suppression works on)."""
        lines = [
            [self.cell(r, c).count for c in range(len(self.columns))] + [self.row_totals[r].count]
            for r in range(len(self.rows))
        ]
        lines.append([t.count for t in self.column_totals] + [self.total.count])
        return lines


def ordered_values(dim: str, seen: Iterable[str]) -> list[str]:
    """Known codes in the catalogue's order, then anything else the data holds, sorted."""
    seen = set(seen)
    dimension = DIMENSIONS.get(dim)
    known = list(dimension.values()) if dimension and dimension.values else []
    return [v for v in known if v in seen] + sorted(seen - set(known))


def build_table(records: Iterable[Record], query: Query) -> Table:
    dims = query.dims
    periods = query.periods()
    first, last = periods[0].start, periods[-1].end
    records = [r for r in apply_filters(records, query.filters) if first <= r.day <= last]

    def keyed(record: Record) -> list[tuple[str, ...]]:
        axes: list[tuple[str, ...]] = []
        for dim in dims:
            if dim == "period":
                assert query.period is not None
                axes.append((period_of(record.day, query.period).key,))
            elif dim == OUTCOME:
                axes.append((MET if record.outcome else NOT_MET,))
            else:
                axes.append(values_of(record, dim))
        return list(itertools.product(*axes))

    keys_of = [(record, keyed(record)) for record in records]
    axis_values: list[list[str]] = []
    for index, dim in enumerate(dims):
        if dim == "period":
            axis_values.append([p.key for p in periods])
        elif dim == OUTCOME:
            axis_values.append([MET, NOT_MET])
        else:
            axis_values.append(ordered_values(dim, (k[index] for _, ks in keys_of for k in ks)))
    size = math.prod(len(values) for values in axis_values)
    if size > MAX_CELLS:
        raise TooManyCells(size)  # checked before building: the product itself may be huge
    if dims:
        rows = list(itertools.product(*axis_values[:-1]))
        columns = axis_values[-1]
    else:
        rows, columns = [()], [""]
    row_index = {row: i for i, row in enumerate(rows)}
    column_index = {column: i for i, column in enumerate(columns)}
    table = Table(
        dims=dims,
        rows=rows,
        columns=columns,
        cells={},
        row_totals=[Cell() for _ in rows],
        column_totals=[Cell() for _ in columns],
        total=Cell(),
    )
    for record, keys in keys_of:
        if not dims:
            keys = [("",)]
        positions = {(row_index[k[:-1]], column_index[k[-1]]) for k in keys}
        for position in positions:
            table.cells.setdefault(position, Cell()).add(record.unit, record.value)
        for r in {r for r, _ in positions}:
            table.row_totals[r].add(record.unit, record.value)
        for c in {c for _, c in positions}:
            table.column_totals[c].add(record.unit, record.value)
        table.total.add(record.unit, record.value)
    return table
