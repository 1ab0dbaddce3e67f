"""The duplicate matcher scored on the labelled pairs in ``tests/data/matching_pairs.json``:
precision and recall, overall and per kind, on the tuning and held-out halves.

A pair counts as found when the service would suggest it: the two records share a blocking
key (the index fetches the older one as a candidate) and the score reaches the threshold."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from services.intake.domain import matching
from services.intake.domain.match_weights import Weights
from services.intake.domain.names import NameKnowledge
from shared.reference import locations

PAIRS_FILE = Path(__file__).resolve().parents[1] / "tests" / "data" / "matching_pairs.json"


def load_pairs(path: Path = PAIRS_FILE) -> list[dict[str, Any]]:
    pairs: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))["pairs"]
    return pairs


def commune_code(name: str) -> str:
    found = [a.code for a in locations().at_level(1) if a.code.endswith("-" + name)]
    if len(found) != 1:
        raise ValueError(f"unknown commune in the labelled pairs: {name}")
    return found[0]


def record_profile(
    k: NameKnowledge, child_id: str, r: Mapping[str, Any], report_id: str
) -> matching.Profile:
    received = date(int(r["year"]), 6, 1)
    dob = date.fromisoformat(r["date_of_birth"]) if r.get("date_of_birth") else None
    low = r.get("age", r.get("age_min"))
    high = r.get("age", r.get("age_max"))
    if dob is not None:
        age = received.year - dob.year - ((received.month, received.day) < (dob.month, dob.day))
        low = high = age
    code = commune_code(r["commune"])
    reporter = r.get("reporter") or {}
    return matching.profile(
        k,
        child_id,
        name=r.get("name"),
        alias=r.get("alias"),
        sex=r["sex"],
        born=matching.birth_window(received, dob, low, high),
        commune=code,
        department=locations().parent_of(code),
        ages=(low, high) if low is not None and high is not None else None,
        exact_birth=dob is not None,
        report_id=report_id,
        reporter_name=reporter.get("name"),
        reporter_contact=reporter.get("contact"),
        whereabouts=r.get("whereabouts"),
        year=received.year,
    )


def pair_profiles(
    k: NameKnowledge, pair: Mapping[str, Any]
) -> tuple[matching.Profile, matching.Profile]:
    """(new, known): the second record is the later report, matched against the first."""
    pid = pair["id"]
    one = f"r-{pid}" if pair.get("same_report") else None
    known = record_profile(k, f"a-{pid}", pair["a"], one or f"ra-{pid}")
    new = record_profile(k, f"b-{pid}", pair["b"], one or f"rb-{pid}")
    return new, known


def fetched(k: NameKnowledge, new: matching.Profile, known: matching.Profile) -> bool:
    return bool(set(matching.query_keys(k, new)) & set(matching.blocking_keys(k, known)))


@dataclass
class Tally:
    pairs: int = 0
    same: int = 0
    tp: int = 0
    fp: int = 0
    lost_to_blocking: int = 0
    mistakes: list[str] = field(default_factory=list)

    @property
    def fn(self) -> int:
        return self.same - self.tp

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / self.same if self.same else None

    def as_json(self) -> dict[str, Any]:
        return {
            "pairs": self.pairs,
            "same_child": self.same,
            "found": self.tp,
            "missed": self.fn,
            "false_alarms": self.fp,
            "lost_to_blocking": self.lost_to_blocking,
            "precision": None if self.precision is None else round(self.precision, 3),
            "recall": None if self.recall is None else round(self.recall, 3),
        }


def evaluate(
    k: NameKnowledge, w: Weights, pairs: Iterable[Mapping[str, Any]]
) -> dict[str, dict[str, Tally]]:
    """split -> ("all" or a kind) -> tally."""
    out: dict[str, dict[str, Tally]] = defaultdict(lambda: defaultdict(Tally))
    for pair in pairs:
        new, known = pair_profiles(k, pair)
        scored = matching.score(k, w, new, known) is not None
        blocked = fetched(k, new, known)
        said = scored and blocked
        for key in ("all", pair["kind"]):
            t = out[pair["split"]][key]
            t.pairs += 1
            t.same += pair["same"]
            t.tp += said and pair["same"]
            t.fp += said and not pair["same"]
            t.lost_to_blocking += scored and not blocked and pair["same"]
            if key == "all" and said != pair["same"]:
                what = "false alarm" if said else "missed"
                t.mistakes.append(
                    f"{what} ({pair['kind']}): {pair['a']['name']} / {pair['b']['name']}"
                )
    return out
