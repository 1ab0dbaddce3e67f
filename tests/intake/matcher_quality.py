"""Scoring the duplicate matcher on a fixture of children's records: every pair of records is
a question "same child?", answered by the matcher and by the fixture's truth.

Two figures per fixture: the matcher alone (``compare`` on every pair), and the matcher as
the service runs it, where a pair is only compared when the two names share a blocking key
(the database fetches candidates by those keys). Results are kept for the terminal summary
(see ``conftest.py``), so ``pytest tests/intake`` shows them without ``-s``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from itertools import combinations

from services.intake.domain import matching
from shared.reference import locations

Age = int | tuple[int, int] | None
# (identity, name, sex, age or (min, max) or None, commune, year reported)
Record = tuple[str, str, str, Age, str, int]


@dataclass
class Quality:
    records: int
    true_pairs: int
    tp: int
    fp: int
    fn: int
    blocked_tp: int
    blocked_fp: int
    mistakes: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / self.true_pairs if self.true_pairs else 1.0

    @property
    def blocked_precision(self) -> float:
        said = self.blocked_tp + self.blocked_fp
        return self.blocked_tp / said if said else 1.0

    @property
    def blocked_recall(self) -> float:
        return self.blocked_tp / self.true_pairs if self.true_pairs else 1.0

    def line(self, label: str) -> str:
        return (
            f"{label}: {self.records} records, {self.true_pairs} true pairs; "
            f"matcher precision {self.precision:.2f} recall {self.recall:.2f} "
            f"(tp {self.tp}, fp {self.fp}, fn {self.fn}); with blocking keys precision "
            f"{self.blocked_precision:.2f} recall {self.blocked_recall:.2f}"
        )


RESULTS: dict[str, Quality] = {}


def commune_code(name: str) -> str:
    found = [a.code for a in locations().at_level(1) if a.code.endswith("-" + name)]
    assert len(found) == 1, name
    return found[0]


def profile_of(i: int, record: Record) -> matching.Profile:
    _, name, sex, age, commune, year = record
    code = commune_code(commune)
    received = date(year, 6, 1)
    low, high = (age, age) if isinstance(age, int) else age if age else (None, None)
    return matching.profile(
        f"c{i}",
        name=name,
        alias=None,
        sex=sex,
        born=matching.birth_window(received, None, low, high),
        commune=code,
        department=locations().parent_of(code),
    )


def evaluate(label: str, records: list[Record], *, summary: bool = True) -> Quality:
    profiles = [(r, profile_of(i, r)) for i, r in enumerate(records)]
    q = Quality(len(records), 0, 0, 0, 0, 0, 0)
    for (ra, a), (rb, b) in combinations(profiles, 2):
        same = ra[0] == rb[0]
        said = matching.compare(a, b) is not None
        shares_key = bool(
            set(matching.blocking_keys(ra[1], None)) & set(matching.blocking_keys(rb[1], None))
        )
        q.true_pairs += same
        q.tp += same and said
        q.fp += said and not same
        q.fn += same and not said
        q.blocked_tp += same and said and shares_key
        q.blocked_fp += said and shares_key and not same
        if said != same:
            kind = "false match" if said else "missed"
            q.mistakes.append(f"{kind}: {ra[1]!r} / {rb[1]!r}")
        elif same and not shares_key:
            q.mistakes.append(f"missed by blocking: {ra[1]!r} / {rb[1]!r}")
    if summary:
        RESULTS[label] = q
    print("\n" + q.line(label) + "\n  " + "\n  ".join(q.mistakes))
    return q
