"""Small-cell suppression of a table with its totals. Pure functions.

Who sees suppressed tables: everyone but the auditor. Statisticians see aggregates only;
supervisors, coordinators, administrators and oversight bodies see their own agency's cases
elsewhere, but national tables would show them other agencies' small cells. Published
periodic reports are always suppressed. Auditors read every record anyway, so their tables
are exact.

The rules, on a table of counts with a total per row, per column and overall:

1. **Primary**: a count of 1 to 4 (below ``threshold``) is shown as ``<5``, which reads
   "fewer than five, possibly none". Zeros are shown as 0 unless rule 2 hides one.
2. **Complementary**: a line (a row with its total, or a column with its total) holding one
   hidden entry would give it away by subtraction, so one more entry of that line is hidden:
   the smallest non-zero count in it (a zero, or the line's total, only when nothing else
   will do). A hidden zero is shown as ``<5``; a hidden count of at least the threshold as
   ``x``, which reads "at least five".
3. **Audit**: rules 1 and 2 are what statistical offices call complementary suppression, and
   they are not enough on their own: in ``[1, 1, 10 | 12]`` with ``<5`` read as 1 to 4, the two
   hidden cells must both be 1. So every hidden entry must have a *witness*: another table,
   consistent with everything published (exact values, ``<5`` as 0 to 4, ``x`` as at least
   the threshold, every total), in which that entry differs. The audit looks for one as a
   cycle of hidden entries, alternately raised and lowered by one along rows and columns,
   which leaves every total unchanged; all entries on such a cycle have a witness at once. A
   hidden entry without one gets another hidden neighbour (the smallest count in its row or
   column, else anywhere), and rules 2 and 3 repeat until nothing changes.

Reading ``<5`` as "0 to 4" is what makes the rules sound: were it "1 to 4", a row of four
``<5`` cells whose total is ``<5`` would give every cell away (all must be 1) however much
else were hidden.

A found cycle is a proof, so an entry the audit passes cannot be pinned to one value by
anyone holding the published table (within the additive model: for tables whose totals count
each child once across several cells, the totals say less than sums would). The audit may
hide more than strictly needed when only a combination of cycles would prove an entry; that
errs on the side of the child.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Literal

Status = Literal["published", "primary", "secondary"]
PUBLISHED: Status = "published"
PRIMARY: Status = "primary"
SECONDARY: Status = "secondary"
THRESHOLD = 5

Position = tuple[int, int]


def suppress(grid: Sequence[Sequence[int]], threshold: int = THRESHOLD) -> list[list[Status]]:
    """The status of every entry of ``grid``: counts in rows, each row's total last, then a
    last line of column totals with the overall total last."""
    values = [list(line) for line in grid]
    if not values or not values[0] or any(len(line) != len(values[0]) for line in values):
        raise ValueError("a table is a non-empty rectangle")
    if any(v < 0 for line in values for v in line):
        raise ValueError("counts are never negative")
    status: list[list[Status]] = [
        [PRIMARY if 0 < v < threshold else PUBLISHED for v in line] for line in values
    ]
    while True:
        if _complete_lines(values, status, threshold):
            continue
        pinned = pinned_entries(values, status, threshold)
        if not pinned or not _protect(values, status, pinned, threshold):
            return status


def _lines(rows: int, columns: int) -> list[list[Position]]:
    return [[(r, c) for c in range(columns)] for r in range(rows)] + [
        [(r, c) for r in range(rows)] for c in range(columns)
    ]


def _hide(values: list[list[int]], status: list[list[Status]], p: Position, k: int) -> None:
    r, c = p
    status[r][c] = PRIMARY if values[r][c] < k else SECONDARY


def _smallest(
    values: list[list[int]], status: list[list[Status]], candidates: list[Position], k: int
) -> Position | None:
    rows, columns = len(values) - 1, len(values[0]) - 1
    eligible = [p for p in candidates if status[p[0]][p[1]] == PUBLISHED]
    if not eligible:
        return None
    # The smallest count, but a zero only when nothing else will do: a zero shown as <5
    # hides the useful fact that there was none. Among equals, a cell before a total.
    return min(
        eligible,
        key=lambda p: (
            values[p[0]][p[1]] == 0,
            values[p[0]][p[1]],
            p[0] == rows or p[1] == columns,
            p,
        ),
    )


def _complete_lines(values: list[list[int]], status: list[list[Status]], k: int) -> bool:
    changed = False
    for line in _lines(len(values), len(values[0])):
        hidden = sum(status[r][c] != PUBLISHED for r, c in line)
        if hidden != 1:
            continue
        pick = _smallest(values, status, line, k)
        if pick is not None:
            _hide(values, status, pick, k)
            changed = True
    return changed


def _allowed(state: Status, new: int, k: int) -> bool:
    """What a reader knows a hidden entry can be."""
    if new < 0:
        return False
    if state == PRIMARY:
        return 0 <= new < k
    return new >= k


def _sign(p: Position, rows: int, columns: int) -> int:
    # Negating the totals makes every line sum to zero, so a cycle of +1/-1 over hidden
    # entries changes no line's sum; a total's own change is then the opposite sign.
    margin = (p[0] == rows) != (p[1] == columns)
    return -1 if margin else 1


def pinned_entries(
    values: Sequence[Sequence[int]], status: Sequence[Sequence[Status]], k: int = THRESHOLD
) -> list[Position]:
    """Hidden entries for which no cycle of +1/-1 changes yields another consistent table."""
    rows, columns = len(values) - 1, len(values[0]) - 1
    hidden = [
        (r, c) for r in range(rows + 1) for c in range(columns + 1) if status[r][c] != PUBLISHED
    ]
    by_row: dict[int, list[Position]] = {}
    by_column: dict[int, list[Position]] = {}
    for p in hidden:
        by_row.setdefault(p[0], []).append(p)
        by_column.setdefault(p[1], []).append(p)

    def change_ok(p: Position, change: int) -> bool:
        return _allowed(status[p[0]][p[1]], values[p[0]][p[1]] + change, k)

    def cycle(start: Position, delta: int) -> list[Position] | None:
        if not change_ok(start, _sign(start, rows, columns) * delta):
            return None
        target, first_column = start
        parent: dict[tuple[str, int], tuple[tuple[str, int], Position] | None] = {
            ("c", first_column): None
        }
        queue: deque[tuple[str, int]] = deque([("c", first_column)])
        while queue:
            node = queue.popleft()
            kind, index = node
            if kind == "c":  # column to row: the entry is lowered in the zero-sum form
                for p in by_column.get(index, []):
                    if p == start or not change_ok(p, -_sign(p, rows, columns) * delta):
                        continue
                    if p[0] == target:
                        path = [start, p]
                        back = parent[node]
                        while back is not None:
                            previous, via = back
                            path.append(via)
                            back = parent[previous]
                        return path
                    nxt = ("r", p[0])
                    if nxt not in parent:
                        parent[nxt] = (node, p)
                        queue.append(nxt)
            else:  # row to column: raised
                for p in by_row.get(index, []):
                    if p == start or not change_ok(p, _sign(p, rows, columns) * delta):
                        continue
                    nxt = ("c", p[1])
                    if nxt not in parent:
                        parent[nxt] = (node, p)
                        queue.append(nxt)
        return None

    proven: set[Position] = set()
    pinned = []
    for p in hidden:
        if p in proven:
            continue
        found = cycle(p, 1) or cycle(p, -1)
        if found is None:
            pinned.append(p)
        else:
            proven.update(found)
    return pinned


def _protect(
    values: list[list[int]], status: list[list[Status]], pinned: list[Position], k: int
) -> bool:
    rows, columns = len(values) - 1, len(values[0]) - 1
    everywhere = [(r, c) for r in range(rows + 1) for c in range(columns + 1)]
    touched_rows: set[int] = set()
    touched_columns: set[int] = set()
    changed = False
    for r, c in pinned:
        if r in touched_rows or c in touched_columns:
            continue  # a neighbour just hidden may already be its witness: audit again first
        near = [(r, j) for j in range(columns + 1)] + [(i, c) for i in range(rows + 1)]
        pick = _smallest(values, status, near, k) or _smallest(values, status, everywhere, k)
        if pick is None:
            continue
        _hide(values, status, pick, k)
        touched_rows.update({r, pick[0]})
        touched_columns.update({c, pick[1]})
        changed = True
    return changed


def hidden_count(status: Sequence[Sequence[Status]]) -> int:
    return sum(s != PUBLISHED for line in status for s in line)
