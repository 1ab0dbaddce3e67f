"""Small-cell suppression: what is hidden, and that nothing hidden can be worked out.

Non-derivability is checked by an independent exhaustive search (``disclosure.py``) of every
value each hidden entry can take given everything the table publishes, on random tables
and on tables built to defeat simpler rules."""

from __future__ import annotations

import random

import pytest

from services.reporting.domain.suppression import (
    PRIMARY,
    PUBLISHED,
    SECONDARY,
    pinned_entries,
    suppress,
)
from tests.reporting.disclosure import disclosed, feasible_values


def extend(cells: list[list[int]]) -> list[list[int]]:
    """A table with its totals, the shape ``suppress`` takes."""
    rows = [[*line, sum(line)] for line in cells]
    return [*rows, [sum(line[c] for line in rows) for c in range(len(rows[0]))]]


def hidden_lines_have_two(status: list[list[str]]) -> bool:
    lines = [list(line) for line in status] + [list(col) for col in zip(*status, strict=True)]
    return all(sum(s != PUBLISHED for s in line) != 1 for line in lines)


def check(cells: list[list[int]]) -> list[list[str]]:
    grid = extend(cells)
    status = suppress(grid)
    for r, line in enumerate(grid):
        for c, value in enumerate(line):
            if 0 < value < 5:
                assert status[r][c] == PRIMARY, (cells, r, c)
            if status[r][c] == SECONDARY:
                assert value >= 5
            if status[r][c] == PRIMARY:
                assert value < 5
    assert hidden_lines_have_two(status), (cells, status)
    assert disclosed(grid, status) == [], (cells, status)
    return status


def test_a_table_without_small_counts_is_published_whole() -> None:
    status = check([[12, 30], [7, 0]])
    assert all(s == PUBLISHED for line in status for s in line)


def test_a_small_count_is_hidden_with_the_smallest_other_count_of_its_row_and_column() -> None:
    grid = extend([[3, 9, 40], [8, 20, 50], [30, 31, 60]])
    status = suppress(grid)
    assert status[0][0] == PRIMARY
    assert status[0][1] == SECONDARY  # 9, the smallest other count of row 0
    assert status[1][0] == SECONDARY  # 8, the smallest other count of column 0
    assert status[1][1] == SECONDARY  # 20 closes the cycle of rows 0-1 and columns 0-1
    assert status[3][3] == PUBLISHED and status[0][3] == PUBLISHED  # totals stay
    assert disclosed(grid, status) == []


def test_zeros_stay_visible_when_a_non_zero_count_can_protect_instead() -> None:
    status = check([[3, 0, 12, 0], [0, 0, 9, 14], [6, 0, 0, 11]])
    assert status[0][1] == PUBLISHED and status[1][1] == PUBLISHED


@pytest.mark.parametrize(
    "cells",
    [
        [[1, 1, 10]],  # two hidden cells adding to 2: both must be 1 under "1 to 4"
        [[4, 4, 10]],  # two hidden cells adding to 8: both must be 4
        [[1, 1, 1, 1]],  # four "<5" adding up to a "<5" total
        [[3]],
        [[0, 0, 3]],
        [[1], [1], [10]],
        [[4, 20], [20, 1]],
        [[1, 2], [2, 1]],
        [[1, 1, 1], [1, 1, 1], [1, 1, 1]],
        [[2, 0, 0], [0, 0, 0], [0, 0, 7]],
        [[40, 1, 50], [60, 70, 80]],
        [[5, 5, 5], [5, 1, 5], [5, 5, 5]],
        [[4, 4], [4, 4]],
        [[0, 0], [0, 0]],
    ],
)
def test_tables_built_to_defeat_simpler_rules_give_nothing_away(cells: list[list[int]]) -> None:
    check(cells)


def test_two_hidden_per_line_is_not_enough_so_an_audit_adds_more() -> None:
    # What complementary suppression alone would publish for [4, 4, 10]: both 4s hidden,
    # the 10 and the total 18 shown. A reader finds both cells: 18 - 10 = 8 = 4 + 4.
    grid = extend([[4, 4, 10]])
    naive = [[PRIMARY, PRIMARY, PUBLISHED, PUBLISHED], [PRIMARY, PRIMARY, PUBLISHED, PUBLISHED]]
    assert hidden_lines_have_two(naive)
    assert feasible_values(grid, naive)[(0, 0)] == {4}
    assert pinned_entries(grid, naive) != []
    # The rules hide the 10 as well, and then each 4 could be 3, 4 or more.
    status = suppress(grid)
    assert status[0][2] == SECONDARY
    assert feasible_values(grid, status)[(0, 0)] >= {3, 4}


def test_random_tables_never_disclose_a_hidden_entry() -> None:
    rng = random.Random(20260301)
    pools = [
        [0, 1, 1, 1, 2],
        [0, 0, 1, 5, 6, 7],
        [1, 2, 3, 4],
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 20],
        [0, 0, 0, 1, 9],
    ]
    for _ in range(250):
        pool = rng.choice(pools)
        rows, columns = rng.randint(1, 4), rng.randint(1, 4)
        check([[rng.choice(pool) for _ in range(columns)] for _ in range(rows)])


def test_large_tables_are_suppressed_and_every_hidden_entry_has_a_witness() -> None:
    rng = random.Random(5)
    cells = [[rng.choice([0, 0, 1, 2, 3, 5, 8, 13, 40]) for _ in range(12)] for _ in range(300)]
    grid = extend(cells)
    status = suppress(grid)
    assert hidden_lines_have_two(status)
    assert pinned_entries(grid, status) == []


def test_malformed_tables_are_refused() -> None:
    with pytest.raises(ValueError):
        suppress([[1, 2], [3]])
    with pytest.raises(ValueError):
        suppress([[-1, 1], [1, 1]])
