"""An independent check of suppressed tables: what a reader can work out about each hidden
entry from everything a table publishes, by exhaustive search (no shared code with the
suppression module, which proves its entries with cycles instead).

A reader knows: published entries exactly; ``<5`` means 0 to 4; ``x`` means at least 5;
every row and column adds up to its total. The search finds every value each hidden entry
can take within a cap (values above the cap are not tried, so a set of two or more values is
a proof that the entry is not pinned, while a single value is a disclosure unless the cap
hid the alternatives; tests keep the cap well above every true value). With ``enough``, the
search stops looking for an entry's values once it has found that many."""

from __future__ import annotations

from collections.abc import Sequence

Position = tuple[int, int]


def feasible_values(
    values: Sequence[Sequence[int]],
    status: Sequence[Sequence[str]],
    threshold: int = 5,
    cap: int | None = None,
    enough: int | None = None,
) -> dict[Position, set[int]]:
    rows, columns = len(values), len(values[0])
    cap = cap if cap is not None else max(max(line) for line in values) + threshold + 3
    hidden = [(r, c) for r in range(rows) for c in range(columns) if status[r][c] != "published"]
    domains: dict[Position, list[int]] = {}
    for r, c in hidden:
        if status[r][c] == "primary":
            domains[(r, c)] = list(range(threshold))
        else:
            domains[(r, c)] = list(range(threshold, cap + 1))
    # Each line: entries and their coefficient (cells +1, the line's total -1), sum 0.
    lines: list[list[tuple[Position, int]]] = []
    for r in range(rows):
        lines.append([((r, c), 1) for c in range(columns - 1)] + [((r, columns - 1), -1)])
    for c in range(columns):
        lines.append([((r, c), 1) for r in range(rows - 1)] + [((rows - 1, c), -1)])
    lines_of: dict[Position, list[int]] = {}
    for index, line in enumerate(lines):
        for p, _ in line:
            lines_of.setdefault(p, []).append(index)

    def solve(assigned: dict[Position, int]) -> bool:
        # Propagate: a line with one unknown fixes it; a line with none must add up.
        assigned = dict(assigned)
        changed = True
        while changed:
            changed = False
            for line in lines:
                unknown = [(p, k) for p, k in line if p in domains and p not in assigned]
                total = sum(
                    k * (assigned[p] if p in domains else values[p[0]][p[1]])
                    for p, k in line
                    if p not in domains or p in assigned
                )
                if not unknown:
                    if total != 0:
                        return False
                    continue
                if len(unknown) == 1:
                    p, k = unknown[0]
                    forced = -total * k  # k is +1 or -1
                    if forced not in domains[p]:
                        return False
                    assigned[p] = forced
                    changed = True
                    continue
                # Bounds: can the unknowns still bring the line to zero?
                low = sum(min(k * domains[p][0], k * domains[p][-1]) for p, k in unknown)
                high = sum(max(k * domains[p][0], k * domains[p][-1]) for p, k in unknown)
                if not low <= -total <= high:
                    return False
        free = [p for p in hidden if p not in assigned]
        if not free:
            return True
        # Branch on the unknown in the most constrained position.
        p = min(free, key=lambda q: (len(domains[q]), -len(lines_of.get(q, []))))
        return any(solve({**assigned, p: v}) for v in domains[p])

    found: dict[Position, set[int]] = {}
    for p in hidden:
        true = values[p[0]][p[1]]
        found[p] = set()
        # Nearest values first: an alternative, when there is one, is usually one away.
        for v in sorted(domains[p], key=lambda v: (abs(v - true), v)):
            if solve({p: v}):
                found[p].add(v)
                if enough is not None and len(found[p]) >= enough:
                    break
    return found


def disclosed(
    values: Sequence[Sequence[int]], status: Sequence[Sequence[str]], threshold: int = 5
) -> list[Position]:
    """Hidden entries a reader can pin to a single value."""
    found = feasible_values(values, status, threshold, enough=2)
    return [p for p, options in found.items() if len(options) <= 1]
