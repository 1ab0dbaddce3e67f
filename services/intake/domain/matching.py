"""Is this child already known? Two child records compared field by field, scored with the
matcher's weights, explained in French and English; and the blocking keys a database index
uses so that only plausible candidates are ever compared.

Siblings are not duplicates: children of the same report are never compared; twins' names,
a boy's and a girl's form of a name, and names that share a part but differ in another
(with the same reporter and close ages: the pattern of siblings) lower the score.

A suggestion is only a suggestion: a person confirms or rejects it, and those decisions are
what the weights are estimated from (``match_weights``). Pure: no I/O."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from rapidfuzz import fuzz

from services.intake.domain.explain import NameMatch, explain
from services.intake.domain.match_weights import Weights
from services.intake.domain.names import NEGATIVE, NameKnowledge, Part, Relation, fold
from shared.i18n import Message

AGE_TOLERANCE_YEARS = 2  # how far apart birth windows may be for a candidate to be fetched
UNKNOWN_AGE_SPAN = 19  # a child of unknown age was born within this many years


@dataclass(frozen=True)
class Profile:
    """What the matcher knows of one child record (no birth date kept: a birth window)."""

    child_id: str
    names: tuple[tuple[Part, ...], ...]  # the name, then the other name (alias)
    sex: str
    born: tuple[float, float] | None  # earliest and latest possible birth, in years
    commune: str
    department: str | None = None
    ages: tuple[int, int] | None = None  # as reported (for explanations)
    exact_birth: bool = False
    report_id: str | None = None
    reporter: tuple[str, str] = ("", "")  # folded name, contact digits
    whereabouts: str = ""  # folded
    year: int = 0  # the year the record was received


def birth_window(
    received: date,
    date_of_birth: date | None,
    age_min: int | None,
    age_max: int | None,
) -> tuple[float, float] | None:
    """An age is relative to the report's date; a birth window compares across years."""
    at = received.year + (received.timetuple().tm_yday - 1) / 365.25
    if date_of_birth is not None:
        born = date_of_birth.year + (date_of_birth.timetuple().tm_yday - 1) / 365.25
        return born, born
    if age_min is None or age_max is None:
        return None
    return at - age_max - 1, at - age_min


def profile(
    knowledge: NameKnowledge,
    child_id: str,
    *,
    name: str | None,
    alias: str | None,
    sex: str,
    born: tuple[float, float] | None,
    commune: str,
    department: str | None = None,
    ages: tuple[int, int] | None = None,
    exact_birth: bool = False,
    report_id: str | None = None,
    reporter_name: str | None = None,
    reporter_contact: str | None = None,
    whereabouts: str | None = None,
    year: int = 0,
) -> Profile:
    names = tuple(p for p in (knowledge.parts(name), knowledge.parts(alias)) if p)
    digits = "".join(c for c in reporter_contact or "" if c.isdigit())
    return Profile(
        child_id,
        names,
        sex,
        born,
        commune,
        department,
        ages,
        exact_birth,
        report_id,
        (fold(reporter_name or "", knowledge.letters), digits[-8:] if len(digits) >= 8 else ""),
        fold(whereabouts or "", knowledge.letters),
        year,
    )


_LEVEL_RANK = (
    "different",
    "twin",
    "other_sex",
    "distinct",
    "partial",
    "ending",
    "close",
    "variant",
    "spelling",
    "exact",
)
_RANK = {level: rank for rank, level in enumerate(_LEVEL_RANK)}
_CLASS = {
    Relation.SAME: "exact",
    Relation.SPELLING: "spelling",
    Relation.VARIANT: "variant",
    Relation.NICKNAME: "variant",
    Relation.CLIPPED: "variant",
    Relation.SHORT: "variant",
    Relation.CLOSE: "close",
}


def _aligned(k: NameKnowledge, a: Sequence[Part], b: Sequence[Part], alias: bool) -> NameMatch:
    # Not remembered per pair of written names: a new child's name is new, so such a memo
    # mostly grew, and every full garbage collection walked it, pausing every request for up
    # to a third of a second under load (decision 0026, throughput7). How two parts relate
    # is remembered (``NameKnowledge.relate``): parts recur, pairs of whole names rarely.
    # Strongest relation first, then by position; parts that are simply different never
    # pair (``Relation.DIFFERENT`` is 0), so they are left out before sorting. Every
    # candidate of every registration comes through here: plain tuples, no key function.
    relate = k.relate
    scored = sorted(
        [
            (-rel, i, j, rel)
            for i, x in enumerate(a)
            for j, y in enumerate(b)
            if (rel := relate(x, y)) != Relation.DIFFERENT
        ]
    )
    used_a: set[int] = set()
    used_b: set[int] = set()
    pairs: list[tuple[int, int, Relation]] = []
    for _, i, j, rel in scored:
        if i in used_a or j in used_b:
            continue
        used_a.add(i)
        used_b.add(j)
        pairs.append((i, j, rel))
    rels = [r for _, _, r in pairs]
    positive = [p for p in pairs if p[2] >= Relation.CLOSE]
    gaps = min(len(a), len(b)) - len(positive)
    if Relation.TWIN in rels:
        level = "twin"
    elif Relation.OTHER_SEX in rels:
        level = "other_sex"
    elif not positive:
        level = "different"
    elif gaps == 0:
        level = _CLASS[min(r for _, _, r in positive)]
    elif Relation.DISTINCT in rels:
        level = "distinct"
    elif gaps == rels.count(Relation.ENDING):
        level = "ending"
    else:
        level = "partial"
    order = [j for _, j, _ in sorted(positive)]
    return NameMatch(
        level,
        tuple((a[i], b[j], r) for i, j, r in pairs if r >= Relation.ENDING or r in NEGATIVE),
        len(a) != len(b),
        alias,
        order != sorted(order),
    )


def compare_names(k: NameKnowledge, new: Profile, known: Profile) -> NameMatch:
    """The best agreement between any name of one record and any name of the other."""
    best: NameMatch | None = None
    for i, a in enumerate(new.names):
        for j, b in enumerate(known.names):
            found = _aligned(k, a, b, alias=bool(i or j))
            if best is None or _RANK[found.level] > _RANK[best.level]:
                best = found
    assert best is not None
    return best


_SEARCH = {"exact": 1.0, "spelling": 0.95, "variant": 0.9, "close": 0.85, "ending": 0.6}


def name_agreement(k: NameKnowledge, a: Sequence[Part], b: Sequence[Part]) -> float:
    """How well a searched name fits a recorded one, 0 to 1 (for ranking search results)."""
    if not a or not b:
        return 0.0
    return _SEARCH.get(_aligned(k, a, b, alias=False).level, 0.0)


def _age_level(a: Profile, b: Profile) -> str:
    if a.born is None or b.born is None:
        return "unknown"
    if a.exact_birth and b.exact_birth and abs(a.born[0] - b.born[0]) < 1.5 / 365:
        return "same_date"
    gap = max(0.0, max(a.born[0], b.born[0]) - min(a.born[1], b.born[1]))
    if gap == 0:
        return "overlap"
    return "within_1" if gap <= 1 else "within_3" if gap <= 3 else "apart"


def _place_level(a: Profile, b: Profile) -> str:
    if "unknown" in (a.commune, b.commune):
        return "unknown"
    if a.commune == b.commune:
        return "same_commune"
    return (
        "same_department" if a.department and a.department == b.department else ("other_department")
    )


def _reporter_level(a: Profile, b: Profile) -> str:
    (an, ac), (bn, bc) = a.reporter, b.reporter
    if (ac and ac == bc) or (an and bn and sorted(an.split()) == sorted(bn.split())):
        return "same"
    return "different" if (an or ac) and (bn or bc) else "unknown"


def _whereabouts_level(a: Profile, b: Profile) -> str:
    if not a.whereabouts or not b.whereabouts:
        return "unknown"
    return "same" if fuzz.token_set_ratio(a.whereabouts, b.whereabouts) >= 85 else "different"


def _sex_level(a: Profile, b: Profile) -> str:
    known = ("female", "male")
    if a.sex in known and b.sex in known:
        return "same" if a.sex == b.sex else "differ"
    return "same" if a.sex == b.sex and a.sex not in ("unknown", "") else "unknown"


@dataclass(frozen=True)
class Comparison:
    levels: dict[str, str]
    names: NameMatch


def compare(k: NameKnowledge, new: Profile, known: Profile) -> Comparison | None:
    """Field levels of two records; None when they cannot be one child: unnamed, the same
    record, two children of one report (siblings or companions), or a girl and a boy (the
    index never fetches those either)."""
    if not new.names or not known.names or new.child_id == known.child_id:
        return None
    if _sex_level(new, known) == "differ":
        return None
    if new.report_id and new.report_id == known.report_id:
        return None
    names = compare_names(k, new, known)
    other = "alias" if names.via_alias else "extra_part" if names.extra else "same_parts"
    levels = {
        "name": names.level,
        "other_names": other,
        "sex": _sex_level(new, known),
        "age": _age_level(new, known),
        "place": _place_level(new, known),
        "reporter": _reporter_level(new, known),
        "whereabouts": _whereabouts_level(new, known),
    }
    siblings = (
        names.level in ("partial", "distinct", "ending")
        and levels["reporter"] == "same"
        and levels["age"] != "apart"
    )
    levels["household"] = "sibling_pattern" if siblings else "none"
    return Comparison(levels, names)


_REASONS = {
    ("sex", "same"): "sex",
    ("age", "same_date"): "age",
    ("age", "overlap"): "age",
    ("age", "within_1"): "age",
    ("place", "same_commune"): "commune",
    ("place", "same_department"): "department",
    ("reporter", "same"): "reporter",
    ("whereabouts", "same"): "whereabouts",
}


@dataclass(frozen=True)
class Match:
    candidate_id: str
    score: float  # probability that the two records are one child
    match_weight: float  # log2 likelihood ratio with the prior
    levels: dict[str, str]
    reasons: tuple[str, ...]
    explanation: Message
    weights_id: str


def score(k: NameKnowledge, w: Weights, new: Profile, known: Profile) -> Match | None:
    """The pair as a suggestion if its probability reaches the weights' threshold."""
    found = compare(k, new, known)
    if found is None:
        return None
    probability = w.probability(found.levels)
    if probability < w.threshold:
        return None
    reasons = ["name"] + [r for (f, lv), r in _REASONS.items() if found.levels.get(f) == lv]
    return Match(
        known.child_id,
        round(probability, 4),
        round(w.match_weight(found.levels), 3),
        found.levels,
        tuple(dict.fromkeys(reasons)),
        explain(found.levels, found.names, new.ages, known.ages),
        w.weights_id,
    )


def suggest(
    k: NameKnowledge, w: Weights, new: Profile, known: Sequence[Profile], limit: int = 5
) -> list[Match]:
    found = [m for other in known if (m := score(k, w, new, other))]
    return sorted(found, key=lambda m: (-m.match_weight, m.candidate_id))[:limit]


def _codes(k: NameKnowledge, p: Profile) -> set[str]:
    return {c for parts in p.names for part in parts for c in k.codes(part)}


def blocking_keys(k: NameKnowledge, p: Profile) -> list[str]:
    """Keys stored with a record: each name code with each year the child may have been born
    in (``u`` when the age is unknown)."""
    years = (
        [str(y) for y in range(math.floor(p.born[0]), math.floor(p.born[1]) + 1)]
        if p.born
        else ["u"]
    )
    return sorted(f"{c}|{y}" for c in _codes(k, p) for y in years)


def query_keys(k: NameKnowledge, p: Profile, tolerance: int = AGE_TOLERANCE_YEARS) -> list[str]:
    """Keys a new record looks up: its name codes with every birth year within
    ``tolerance`` of its window (all plausible years when its age is unknown), and ``u``."""
    if p.born:
        first, last = math.floor(p.born[0]) - tolerance, math.floor(p.born[1]) + tolerance
    else:
        last = p.year  # the year the record was received: the domain reads no clock
        first = last - UNKNOWN_AGE_SPAN
    years = [*(str(y) for y in range(first, last + 1)), "u"]
    return sorted(f"{c}|{y}" for c in _codes(k, p) for y in years)
