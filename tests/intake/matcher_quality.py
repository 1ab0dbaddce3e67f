"""Scoring the duplicate matcher on fixtures of children's records written by earlier
sessions: every pair of records is a question "same child?", answered by the matcher as the
service runs it (the pair must share a blocking key, then reach the threshold) and by the
fixture's truth. Results are kept for the terminal summary (see ``conftest.py``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations

from relais.matcher_quality import fetched, record_profile
from services.intake.config import knowledge_from
from services.intake.domain import matching
from services.intake.domain.match_weights import default_weights

Age = int | tuple[int, int] | None
# (identity, name, sex, age or (min, max) or None, commune, year reported)
Record = tuple[str, str, str, Age, str, int]


@dataclass
class Quality:
    records: int
    true_pairs: int = 0
    tp: int = 0
    fp: int = 0
    mistakes: list[str] = field(default_factory=list)

    @property
    def fn(self) -> int:
        return self.true_pairs - self.tp

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / self.true_pairs if self.true_pairs else 1.0

    def line(self, label: str) -> str:
        return (
            f"{label}: {self.records} records, {self.true_pairs} true pairs; precision "
            f"{self.precision:.2f} recall {self.recall:.2f} (tp {self.tp}, fp {self.fp}, "
            f"fn {self.fn})"
        )


RESULTS: dict[str, Quality] = {}


def _as_dict(r: Record) -> dict[str, object]:
    _, name, sex, age, commune, year = r
    out: dict[str, object] = {"name": name, "sex": sex, "commune": commune, "year": year}
    if isinstance(age, int):
        out["age"] = age
    elif age:
        out["age_min"], out["age_max"] = age
    return out


def evaluate(label: str, records: list[Record], *, summary: bool = True) -> Quality:
    k, w = knowledge_from(), default_weights()
    profiles = [
        (r, record_profile(k, f"c{i}", _as_dict(r), f"r{i}")) for i, r in enumerate(records)
    ]
    q = Quality(len(records))
    for (ra, a), (rb, b) in combinations(profiles, 2):
        same = ra[0] == rb[0]
        said = matching.score(k, w, b, a) is not None and fetched(k, b, a)
        q.true_pairs += same
        q.tp += same and said
        q.fp += said and not same
        if said != same:
            kind = "false match" if said else "missed"
            q.mistakes.append(f"{kind}: {ra[1]!r} / {rb[1]!r}")
    if summary:
        RESULTS[label] = q
    print("\n" + q.line(label) + "\n  " + "\n  ".join(q.mistakes))
    return q
