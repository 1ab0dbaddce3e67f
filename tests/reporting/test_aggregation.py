"""Periods, aggregation into tables, and a case's state at an instant: pure functions."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from services.reporting.domain.casestate import Change, states_at
from services.reporting.domain.catalogue import INDICATORS
from services.reporting.domain.periods import (
    local_day,
    parse_period,
    period_of,
    periods_between,
)
from services.reporting.domain.query import Query, Record, build_table, quantile
from services.reporting.read.record_fields import canonical_children, place

pytestmark = pytest.mark.domain

BENIN = ZoneInfo("Africa/Porto-Novo")


def test_periods_have_keys_and_bounds() -> None:
    assert period_of(date(2026, 2, 14), "month").key == "2026-02"
    assert period_of(date(2026, 2, 14), "month").end == date(2026, 2, 28)
    q = period_of(date(2026, 11, 3), "quarter")
    assert (q.key, q.start, q.end) == ("2026-Q4", date(2026, 10, 1), date(2026, 12, 31))
    assert period_of(date(2024, 2, 29), "year").key == "2024"
    assert [p.key for p in periods_between(date(2026, 1, 20), date(2026, 4, 2), "month")] == [
        "2026-01",
        "2026-02",
        "2026-03",
        "2026-04",
    ]
    assert parse_period("2026-Q2", "quarter").start == date(2026, 4, 1)
    for bad, kind in [("2026-13", "month"), ("2026-Q5", "quarter"), ("26", "year"), ("x", "day")]:
        with pytest.raises(ValueError):
            parse_period(bad, kind)


def test_an_instant_falls_on_the_local_day() -> None:
    late = datetime(2025, 12, 31, 23, 30, tzinfo=UTC)
    assert local_day(late, BENIN) == date(2026, 1, 1)
    assert local_day(late, UTC) == date(2025, 12, 31)


def _query(code: str, **kwargs: object) -> Query:
    return Query(INDICATORS[code], date(2026, 1, 1), date(2026, 3, 31), **kwargs)  # type: ignore[arg-type]


def test_cells_count_distinct_things_and_totals_count_each_once() -> None:
    records = [
        Record(
            "r1", date(2026, 1, 5), {"channel": "police", "concern": ("neglect", "child_labour")}
        ),
        Record("r2", date(2026, 1, 9), {"channel": "police", "concern": ("neglect",)}),
        Record("r3", date(2026, 2, 1), {"channel": "school", "concern": ("child_labour",)}),
        Record("r4", date(2026, 5, 1), {"channel": "school", "concern": ("neglect",)}),  # outside
    ]
    table = build_table(records, _query("reports_received", by=("channel", "concern")))
    assert table.rows == [("police",), ("school",)]
    assert table.columns == ["child_labour", "neglect"]
    assert [[table.cell(r, c).count for c in range(2)] for r in range(2)] == [[1, 2], [1, 0]]
    # r1 has two concerns: it counts in both cells but once in its row and in the total.
    assert [t.count for t in table.row_totals] == [2, 1]
    assert [t.count for t in table.column_totals] == [2, 2]
    assert table.total.count == 3


def test_every_period_of_the_range_is_a_row_even_when_empty() -> None:
    records = [Record("r1", date(2026, 3, 2), {"sex": ("female",)})]
    table = build_table(records, _query("reports_received", period="month", by=("sex",)))
    assert table.rows == [("2026-01",), ("2026-02",), ("2026-03",)]
    assert table.grid() == [[0, 0], [0, 0], [1, 1], [1, 1]]


def test_a_filter_keeps_the_wanted_values_of_several() -> None:
    records = [
        Record("k1", date(2026, 1, 5), {"concern": ("trafficking_sexual", "neglect")}),
        Record("k2", date(2026, 1, 6), {"concern": ("neglect",)}),
    ]
    query = _query(
        "trafficking_cases",
        by=("concern",),
        filters={"concern": frozenset({"trafficking_sexual"})},
    )
    table = build_table(records, query)
    assert table.columns == ["trafficking_sexual"] and table.total.count == 1


def test_a_share_has_the_outcome_as_its_columns() -> None:
    records = [
        Record(f"r{i}", date(2026, 1, 5), {"channel": "police"}, outcome=i % 3 != 0)
        for i in range(9)
    ]
    table = build_table(records, _query("reports_screened_within_deadline", by=("channel",)))
    assert table.dims == ("channel", "outcome") and table.columns == ["met", "not_met"]
    assert table.grid() == [[6, 3, 9], [6, 3, 9]]


def test_durations_and_caseloads_summarise_per_thing() -> None:
    records = [
        Record(f"k{i}", date(2026, 1, 5), {"urgency": "high"}, value=float(v))
        for i, v in enumerate([1, 2, 3, 4, 10])
    ]
    table = build_table(records, _query("time_to_case_opening", by=("urgency",)))
    assert table.total.stats() == {"mean": 4.0, "median": 3.0, "p90": 7.6, "max": 10.0}
    assert quantile([1.0, 2.0], 0.5) == 1.5


def test_places_and_duplicate_children() -> None:
    assert place("bj-borgou-parakou") == {"commune": "bj-borgou-parakou", "department": "bj-borgou"}
    assert place("bj-borgou") == {"commune": "unknown", "department": "bj-borgou"}
    assert place("nowhere") == {"commune": "unknown", "department": "unknown"}
    same = canonical_children([("c-9", "c-3"), ("c-3", "c-5"), ("c-7", "c-8")])
    assert same == {"c-9": "c-3", "c-3": "c-3", "c-5": "c-3", "c-7": "c-7", "c-8": "c-7"}


def test_a_case_state_at_each_period_end() -> None:
    t = [datetime(2026, m, 15, tzinfo=UTC) for m in range(1, 7)]
    changes = [
        Change(1, t[0], "opened", stage="registration", risk="medium", agency="ocpm"),
        Change(2, t[1], "assigned", worker="w1", qualified=True),
        Change(3, t[1], "stage", stage="initial_assessment"),
        Change(4, t[2], "risk", risk="high"),
        Change(5, t[3], "transfer", agency="ong"),
        Change(6, t[4], "closed", stage="closure", reason="goals_met"),
        Change(7, t[5], "reopened", stage="initial_assessment"),
    ]
    ends = [datetime(2026, m, 1, tzinfo=UTC) for m in range(2, 8)]
    states = states_at(reversed(changes), ends)
    assert [s.open for s in states] == [True, True, True, True, False, True]
    assert states[1].worker == "w1" and states[1].stage == "initial_assessment"
    assert states[2].risk == "high"
    assert states[3].agency == "ong" and states[3].worker is None
    before = states_at(changes, [datetime(2026, 1, 1, tzinfo=UTC)])
    assert before[0].open is False


def test_report_schedule_and_size() -> None:
    from services.reporting.app.reports import (
        MAX_PUBLICATION_BYTES,
        closed_periods,
        due_at,
        fit,
    )

    first = parse_period("2026-Q3", "quarter")
    assert [p.key for p in closed_periods(first, "quarter", date(2027, 1, 1))] == [
        "2026-Q3",
        "2026-Q4",
    ]
    assert closed_periods(first, "quarter", date(2026, 9, 30)) == []
    # Due at midnight in Benin, 15 days after the quarter's last day.
    assert due_at(first, 15) == datetime(2026, 10, 15, 23, tzinfo=UTC)
    small = {"indicator": {"code": "a"}, "rows": [1] * 10}
    big = {"indicator": {"code": "b"}, "rows": ["x" * 100] * (MAX_PUBLICATION_BYTES // 90)}
    tables = fit([small, big])
    assert tables[0] is small and "error" in tables[1]
