"""The directory search ranking, as a pure function."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from services.referral.domain.search import (
    Interval,
    Need,
    UnitEntry,
    is_open,
    opens_on,
    parse_interval,
    rank,
)
from shared.reference import locations

MONDAY = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
SUNDAY = datetime(2026, 3, 8, 10, 0, tzinfo=UTC)
WEEK = {d: ["08:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")}


def unit(unit_id: str, commune: str, **kw: Any) -> UnitEntry:
    values: dict[str, Any] = {
        "name": unit_id,
        "agency_id": "a",
        "service_kinds": ("psychological",),
        "opening_hours": WEEK,
        "languages": ("fr",),
        "min_age": 0,
        "max_age": 17,
        "sexes": (),
        "available": 1,
    }
    values.update(kw)
    return UnitEntry(unit_id=unit_id, commune=commune, **values)


NEED = Need("psychological", age=14, sex="female", near="bj-donga-djougou", on=MONDAY)


def ids(units: list[UnitEntry], need: Need = NEED) -> list[str]:
    return [c.unit.unit_id for c in rank(units, need, locations())]


def test_filters_service_age_sex_and_open_today() -> None:
    units = [
        unit("ok", "bj-donga-djougou"),
        unit("other-service", "bj-donga-djougou", service_kinds=("medical",)),
        unit("too-young", "bj-donga-djougou", min_age=0, max_age=12),
        unit("boys", "bj-donga-djougou", sexes=("male",)),
        unit("girls", "bj-donga-djougou", sexes=("female",)),
        unit("weekend-only", "bj-donga-djougou", opening_hours={"sat": ["09:00-12:00"]}),
    ]
    assert sorted(ids(units)) == ["girls", "ok"]
    assert ids(units, Need("psychological", age=14, sex="female", on=SUNDAY)) == []


def test_a_free_place_comes_before_proximity() -> None:
    units = [
        unit("djougou-full", "bj-donga-djougou", available=0),
        unit("cotonou-free", "bj-littoral-cotonou"),
    ]
    assert ids(units) == ["cotonou-free", "djougou-full"]


def test_then_same_commune_then_same_department_then_elsewhere() -> None:
    units = [
        unit("cotonou", "bj-littoral-cotonou"),
        unit("bassila", "bj-donga-bassila"),
        unit("djougou", "bj-donga-djougou"),
    ]
    ranked = rank(units, NEED, locations())
    assert [c.unit.unit_id for c in ranked] == ["djougou", "bassila", "cotonou"]
    assert [(c.same_commune, c.same_department) for c in ranked] == [
        (True, True),
        (False, True),
        (False, False),
    ]


def test_near_a_department_ranks_its_communes_together() -> None:
    units = [unit("cotonou", "bj-littoral-cotonou"), unit("bassila", "bj-donga-bassila")]
    assert ids(units, Need("psychological", near="bj-donga")) == ["bassila", "cotonou"]


def test_fit_breaks_ties_language_then_age_specialism_then_places() -> None:
    need = Need("psychological", age=14, near="bj-donga-djougou", language="dendi", on=MONDAY)
    units = [
        unit("generic", "bj-donga-djougou", available=5),
        unit("teen", "bj-donga-djougou", min_age=10, max_age=17),
        unit("dendi", "bj-donga-djougou", languages=("fr", "dendi")),
        unit("generic-few", "bj-donga-djougou", available=1),
    ]
    assert ids(units, need) == ["dendi", "teen", "generic", "generic-few"]


def test_no_location_or_day_given_filters_only_on_the_service() -> None:
    units = [unit("a", "bj-littoral-cotonou"), unit("b", "unknown-place", available=3)]
    assert ids(units, Need("psychological")) == ["b", "a"]


@pytest.mark.parametrize(
    "bad",
    ["8-17", "08:00", "08:00-08:00", "25:00-26:00", "08h00-12h00", "24:00-08:00", "08:00-24:30"],
)
def test_malformed_opening_intervals_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_interval(bad)


def test_well_formed_intervals() -> None:
    assert parse_interval("08:00-17:30") == Interval(8 * 60, 17 * 60 + 30)
    assert not parse_interval("08:00-17:30").overnight
    assert parse_interval("00:00-24:00") == Interval(0, 24 * 60)
    assert parse_interval(" 20:00 - 08:00 ").overnight  # into the next morning


SHELTER = {"mon": ["08:00-12:00", "14:00-18:00"], "fri": ["20:00-08:00"], "sat": ["00:00-24:00"]}


@pytest.mark.parametrize(
    ("moment", "open_"),
    [
        (datetime(2026, 3, 2, 7, 59), False),  # Monday, before opening
        (datetime(2026, 3, 2, 8, 0), True),
        (datetime(2026, 3, 2, 12, 30), False),  # the lunch break
        (datetime(2026, 3, 2, 17, 59), True),
        (datetime(2026, 3, 2, 18, 0), False),  # closing time is closed
        (datetime(2026, 3, 6, 19, 59), False),  # Friday evening
        (datetime(2026, 3, 6, 23, 0), True),
        (datetime(2026, 3, 7, 3, 0), True),  # Saturday: Friday's night and its own day
        (datetime(2026, 3, 7, 23, 59), True),
        (datetime(2026, 3, 8, 0, 0), False),  # Sunday: nothing spills from "24:00"
        (datetime(2026, 3, 3, 3, 0), False),  # Tuesday night: Monday closed at 18:00
    ],
)
def test_open_at_a_time_of_day_including_overnight(moment: datetime, open_: bool) -> None:
    assert is_open(SHELTER, moment) is open_


def test_open_on_a_day_counts_the_small_hours_of_an_overnight_interval() -> None:
    night = {"sun": ["22:00-06:00"]}
    assert opens_on(night, datetime(2026, 3, 8))  # Sunday
    assert opens_on(night, datetime(2026, 3, 9))  # Monday until 06:00
    assert not opens_on(night, datetime(2026, 3, 10))
    assert not opens_on({"sun": ["22:00-00:00"]}, datetime(2026, 3, 9))


def test_an_unreadable_stored_interval_counts_as_closed() -> None:
    assert not is_open({"mon": ["whenever"]}, datetime(2026, 3, 2, 10, 0))


def test_open_now_ranks_first_when_a_time_is_asked_about() -> None:
    night = {d: ["20:00-08:00"] for d in ("sun", "mon", "tue", "wed", "thu", "fri", "sat")}
    units = [
        unit("day-near", "bj-donga-djougou", available=3),
        unit("night-far-full", "bj-littoral-cotonou", opening_hours=night, available=0),
    ]
    evening = datetime(2026, 3, 2, 22, 0)
    need = Need("psychological", near="bj-donga-djougou", on=evening, at=evening)
    ranked = rank(units, need, locations())
    assert [(c.unit.unit_id, c.open_now) for c in ranked] == [
        ("night-far-full", True),
        ("day-near", False),
    ]
    morning = datetime(2026, 3, 2, 10, 0)
    assert ids(units, Need("psychological", on=morning, at=morning)) == [
        "day-near",
        "night-far-full",
    ]
    assert rank(units, Need("psychological"), locations())[0].open_now is None
