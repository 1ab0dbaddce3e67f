"""The weights of the duplicate matcher's probabilistic score (Fellegi-Sunter), and their
estimation from the people's own decisions.

Each field of two child records agrees at some level (names are variants, ages overlap,
same commune...). A level's weight is log2(m / u): m is how often true duplicates show that
level, u how often different children that look alike do. The match weight of a pair is the
prior odds plus the sum of its fields' weights; its probability decides the suggestion.

The defaults are judgement (see ``docs/decisions/0009``). Every suggestion a person confirms
or rejects is a labelled example: ``estimate`` blends the counts of each level among
confirmed (m) and rejected (u) suggestions with the defaults as a prior worth
``M_PRIOR_STRENGTH`` / ``U_PRIOR_STRENGTH`` decisions, so a handful of decisions moves the
weights a little and many decide them. Pure: no I/O."""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

# field -> its levels, in the order explanations and tables show them
FIELDS: dict[str, tuple[str, ...]] = {
    "name": (
        "exact",
        "spelling",
        "variant",
        "close",
        "ending",
        "partial",
        "distinct",
        "other_sex",
        "twin",
        "different",
    ),
    "other_names": ("same_parts", "extra_part", "alias"),
    "sex": ("same", "unknown", "differ"),
    "age": ("same_date", "overlap", "within_1", "within_3", "apart", "unknown"),
    "place": ("same_commune", "same_department", "other_department", "unknown"),
    "reporter": ("same", "different", "unknown"),
    "whereabouts": ("same", "different", "unknown"),
    # Same reporter, close ages and names that share a part but differ in another: the
    # pattern of siblings, which lowers the score unless the names are variants.
    "household": ("sibling_pattern", "none"),
}

# (m, u) per level: judgement, checked on the tuning half of the labelled pairs only.
_DEFAULTS: dict[str, dict[str, tuple[float, float]]] = {
    "name": {
        "exact": (0.45, 0.002),
        "spelling": (0.2, 0.003),
        "variant": (0.2, 0.002),
        "close": (0.08, 0.005),
        "ending": (0.02, 0.01),
        "partial": (0.03, 0.08),
        "distinct": (0.003, 0.03),
        "other_sex": (0.002, 0.02),
        "twin": (0.0005, 0.01),
        "different": (0.0145, 0.838),
    },
    "other_names": {"same_parts": (0.6, 0.55), "extra_part": (0.3, 0.4), "alias": (0.1, 0.05)},
    "sex": {"same": (0.85, 0.5), "unknown": (0.13, 0.2), "differ": (0.02, 0.3)},
    "age": {
        "same_date": (0.1, 0.001),
        "overlap": (0.5, 0.08),
        "within_1": (0.25, 0.08),
        "within_3": (0.05, 0.15),
        "apart": (0.003, 0.6),
        "unknown": (0.097, 0.089),
    },
    "place": {
        "same_commune": (0.6, 0.25),
        "same_department": (0.2, 0.2),
        "other_department": (0.15, 0.5),
        "unknown": (0.05, 0.05),
    },
    "reporter": {"same": (0.2, 0.05), "different": (0.6, 0.75), "unknown": (0.2, 0.2)},
    "whereabouts": {"same": (0.3, 0.05), "different": (0.3, 0.55), "unknown": (0.4, 0.4)},
    "household": {"sibling_pattern": (0.01, 0.15), "none": (0.99, 0.85)},
}
DEFAULT_PRIOR = 0.05  # share of candidate pairs (sharing a blocking key) that are one child
DEFAULT_THRESHOLD = 0.5  # suggest at this probability or above
# The defaults count as this many decisions per field. Confirmed suggestions are nearly all
# the true duplicates, so they teach m quickly; rejected suggestions are the most alike of
# the different children, a biased sample of them, so they move u (which the defaults set
# for every candidate pair the index fetches) slowly.
M_PRIOR_STRENGTH = 10.0
U_PRIOR_STRENGTH = 200.0
FLOOR = 1e-4  # no level is ever impossible


Table = Mapping[str, Mapping[str, float]]


@dataclass(frozen=True)
class Weights:
    m: Table
    u: Table
    prior: float = DEFAULT_PRIOR
    threshold: float = DEFAULT_THRESHOLD
    confirmed: int = 0  # decisions they were estimated from (0: the defaults)
    rejected: int = 0
    weights_id: str = field(default="")

    def __post_init__(self) -> None:
        if not self.weights_id:
            object.__setattr__(self, "weights_id", _identity(self))

    def weight(self, name: str, level: str) -> float:
        return self._log_weights[name][level]

    @cached_property
    def _log_weights(self) -> dict[str, dict[str, float]]:
        # Every candidate of every registration sums these: computed once, not per field.
        return {
            f: {lv: math.log2(max(self.m[f][lv], FLOOR) / max(self.u[f][lv], FLOOR)) for lv in ls}
            for f, ls in self.m.items()
        }

    @cached_property
    def _prior_weight(self) -> float:
        return math.log2(self.prior / (1 - self.prior))

    def match_weight(self, levels: Mapping[str, str]) -> float:
        table = self._log_weights
        return self._prior_weight + sum(table[f][lv] for f, lv in levels.items() if f in FIELDS)

    def probability(self, levels: Mapping[str, str]) -> float:
        w = self.match_weight(levels)
        return 1.0 / (1.0 + 2.0 ** (-w)) if w > -60 else 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "weights_id": self.weights_id,
            "levels": {
                f: {lv: [round(self.m[f][lv], 6), round(self.u[f][lv], 6)] for lv in levels}
                for f, levels in FIELDS.items()
            },
            "prior": self.prior,
            "threshold": self.threshold,
            "confirmed": self.confirmed,
            "rejected": self.rejected,
        }


def _identity(w: Weights) -> str:
    body = {
        f: {lv: [round(w.m[f][lv], 6), round(w.u[f][lv], 6)] for lv in levels}
        for f, levels in FIELDS.items()
    }
    canonical = json.dumps([body, w.prior, w.threshold], sort_keys=True).encode()
    return "w-" + hashlib.sha256(canonical).hexdigest()[:16]


def _normalised(table: Mapping[str, float], levels: Sequence[str]) -> dict[str, float]:
    total = sum(table[lv] for lv in levels)
    return {lv: table[lv] / total for lv in levels}


def default_weights() -> Weights:
    m = {f: _normalised({lv: v[0] for lv, v in t.items()}, FIELDS[f]) for f, t in _DEFAULTS.items()}
    u = {f: _normalised({lv: v[1] for lv, v in t.items()}, FIELDS[f]) for f, t in _DEFAULTS.items()}
    return Weights(m=m, u=u)


def weights_from_json(raw: Mapping[str, Any]) -> Weights:
    levels = raw["levels"]
    m = {f: {lv: float(levels[f][lv][0]) for lv in FIELDS[f]} for f in FIELDS}
    u = {f: {lv: float(levels[f][lv][1]) for lv in FIELDS[f]} for f in FIELDS}
    return Weights(
        m=m,
        u=u,
        prior=float(raw["prior"]),
        threshold=float(raw["threshold"]),
        confirmed=int(raw.get("confirmed", 0)),
        rejected=int(raw.get("rejected", 0)),
        weights_id=str(raw["weights_id"]),
    )


Decision = tuple[Mapping[str, str], bool]  # the field levels a person saw, and "same child?"


def estimate(
    decisions: Sequence[Decision],
    base: Weights,
    m_strength: float = M_PRIOR_STRENGTH,
    u_strength: float = U_PRIOR_STRENGTH,
) -> Weights:
    """Weights from confirmed (same child) and rejected (different children) suggestions,
    with ``base`` as the prior: m from the confirmed, u from the rejected, level by level.
    Levels a suggestion never shows (names that differ: never suggested) keep the prior."""
    same = [levels for levels, confirmed in decisions if confirmed]
    other = [levels for levels, confirmed in decisions if not confirmed]

    def blend(
        examples: list[Mapping[str, str]], prior: Table, strength: float
    ) -> dict[str, dict[str, float]]:
        out: dict[str, dict[str, float]] = {}
        for f, levels in FIELDS.items():
            counts = Counter(e[f] for e in examples if e.get(f) in levels)
            seen = sum(counts.values())
            out[f] = {
                lv: (counts[lv] + strength * prior[f][lv]) / (seen + strength) for lv in levels
            }
        return out

    return Weights(
        m=blend(same, base.m, m_strength),
        u=blend(other, base.u, u_strength),
        prior=base.prior,
        threshold=base.threshold,
        confirmed=len(same),
        rejected=len(other),
    )
