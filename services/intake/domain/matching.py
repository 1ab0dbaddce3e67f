"""Is this child already known? A pure, explainable matcher for West African names.

Spelling variants of one name mostly differ in vowels, doubled letters, accents, silent h
and French vs English spelling (Fatoumata / Fatimata, Mariama / Mariame, Kossi / Kosi,
Aminatou / Aminata, Kwame / Kouamé), or in a short form (Fatou, Kossi for Kossivi, Abdou).
Different names with similar letters usually differ in their consonants: the Ewe/Fon day
names Kossi, Koffi, Kokou are three different boys. So two name parts match when their
consonant skeletons agree, when one is a short form of the other, or through a small table
of known nicknames; plain edit similarity counts for less.

A suggestion is only a suggestion: a person confirms or rejects it."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

# Short forms and variants that share no skeleton, as usually spelled (turned into the
# phonetic form below).
_NICKNAMES = (
    ("fatou", "fatoumata", "fatimata", "fatima", "fanta"),
    ("mamadou", "mohamed", "mouhamed", "mamoudou"),
    ("abdoulaye", "abdou", "abdoul", "laye"),
    ("adjo", "adjoa", "adjovi"),
    ("akossiwa", "akossi", "kossiwa"),
    ("aissatou", "aissata", "awa"),
    ("ousmane", "ousmanou", "usman"),
    ("ibrahim", "ibrahima", "brahima"),
    ("marie", "mariama", "mariam", "maryam"),
)
SAME_NAME, NICKNAME, SKELETON, SHORT_FORM = 1.0, 0.95, 0.92, 0.88
NAME_GATE = 0.85  # below this the names alone rule a match out
AGE_TOLERANCE_YEARS = 2.0  # guessed ages are often a year or two off
THRESHOLD = 0.78


def fold(text: str) -> str:
    """Lower case, no accents, letters and spaces only."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return re.sub(r"[^a-z]+", " ", plain).strip()


_SOUNDS = (
    ("tch", "c"),
    ("ch", "c"),
    ("sh", "c"),  # English spelling of the French ch (Shantal / Chantal)
    ("gb", "b"),  # the Fon/Ewe gb is often written b (Houngbo / Hounbo)
    ("dj", "j"),
    ("ph", "f"),
    ("ou", "u"),
    ("oo", "u"),
    ("ck", "k"),
    ("qu", "k"),
    ("q", "k"),
    ("c", "k"),
    ("w", "u"),
    ("y", "i"),
    ("ee", "i"),
    ("h", ""),
)


def phonetic(token: str) -> str:
    """A spelling-insensitive form of one name part (already folded)."""
    out = re.sub(r"di(?=[aeou])", "j", token)  # Diallo / Djallo
    for spelled, sound in _SOUNDS:
        out = out.replace(spelled, sound)
    out = re.sub(r"(.)\1+", r"\1", out)  # Kossi / Kosi, Mohammed / Mohamed
    stripped = out.rstrip("aeiou")  # Mariama / Mariame / Mariam; French mute endings
    return stripped if len(stripped) >= 2 else out


NICKNAMES: tuple[frozenset[str], ...] = tuple(
    frozenset(phonetic(fold(n)) for n in group) for group in _NICKNAMES
)


def skeleton(sound: str) -> str:
    return re.sub(r"[aeiou]", "", sound)


def tokens(name: str) -> list[str]:
    return [phonetic(t) for t in fold(name).split() if t]


def jaro_winkler(a: str, b: str) -> float:
    if a == b:
        return 1.0
    if not a or not b:
        return 0.0
    window = max(max(len(a), len(b)) // 2 - 1, 0)
    a_hit, b_hit = [False] * len(a), [False] * len(b)
    matches = 0
    for i, ch in enumerate(a):
        for j in range(max(0, i - window), min(len(b), i + window + 1)):
            if not b_hit[j] and b[j] == ch:
                a_hit[i] = b_hit[j] = True
                matches += 1
                break
    if not matches:
        return 0.0
    a_seq = [c for c, hit in zip(a, a_hit, strict=True) if hit]
    b_seq = [c for c, hit in zip(b, b_hit, strict=True) if hit]
    transpositions = sum(x != y for x, y in zip(a_seq, b_seq, strict=True)) / 2
    jaro = (matches / len(a) + matches / len(b) + (matches - transpositions) / matches) / 3
    prefix = 0
    for x, y in zip(a[:4], b[:4], strict=False):
        if x != y:
            break
        prefix += 1
    return jaro + prefix * 0.1 * (1 - jaro)


def token_similarity(a: str, b: str) -> float:
    """Two name parts, already in phonetic form."""
    if a == b:
        return SAME_NAME
    if any(a in group and b in group for group in NICKNAMES):
        return NICKNAME
    if skeleton(a) == skeleton(b) and len(skeleton(a)) >= 2:
        return SKELETON
    short, long_ = sorted((a, b), key=len)
    if len(short) >= 3 and long_.startswith(short):
        return SHORT_FORM
    return 0.8 * jaro_winkler(a, b)  # letters alike but consonants differ: weak evidence


def name_similarity(a: list[str], b: list[str]) -> float:
    """Order-insensitive (given names and family names get swapped); every part of the
    shorter name must find a partner, and the weakest partner decides."""
    if not a or not b:
        return 0.0
    short, long_ = sorted((a, b), key=len)
    free = list(long_)
    weakest = 1.0
    for part in short:
        best = max(free, key=lambda other: token_similarity(part, other))
        weakest = min(weakest, token_similarity(part, best))
        free.remove(best)
    if len(short) < len(long_):
        weakest *= 0.97  # a part missing on one side is a little less certain
    return weakest


@dataclass(frozen=True)
class Profile:
    """What the matcher knows of one child record (no date of birth kept: a birth window)."""

    child_id: str
    names: tuple[tuple[str, ...], ...]  # phonetic parts of the name and of the alias
    sex: str
    born: tuple[float, float] | None  # earliest and latest possible birth, in years
    commune: str
    department: str | None = None


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
    child_id: str,
    *,
    name: str | None,
    alias: str | None,
    sex: str,
    born: tuple[float, float] | None,
    commune: str,
    department: str | None = None,
) -> Profile:
    names = tuple(tuple(tokens(n)) for n in (name, alias) if n and tokens(n))
    return Profile(child_id, names, sex, born, commune, department)


@dataclass(frozen=True)
class Match:
    candidate_id: str
    score: float
    reasons: tuple[str, ...]


def compare(new: Profile, known: Profile) -> Match | None:
    if not new.names or not known.names:
        return None  # unnamed children cannot be matched by name
    if new.sex in ("female", "male") and known.sex in ("female", "male") and new.sex != known.sex:
        return None
    name = max(name_similarity(list(a), list(b)) for a in new.names for b in known.names)
    if name < NAME_GATE:
        return None
    reasons = ["name"]
    if new.sex == known.sex and new.sex in ("female", "male"):
        reasons.append("sex")
    age = 0.5  # unknown on either side: neither for nor against
    if new.born and known.born:
        gap = max(0.0, max(new.born[0], known.born[0]) - min(new.born[1], known.born[1]))
        if gap > AGE_TOLERANCE_YEARS:
            return None
        age = 1.0 - gap / (AGE_TOLERANCE_YEARS + 1)
        reasons.append("age")
    if "unknown" in (new.commune, known.commune):
        place = 0.5
    elif new.commune == known.commune:
        place = 1.0
        reasons.append("commune")
    elif new.department and new.department == known.department:
        place = 0.6
    else:
        place = 0.3  # children move (trafficking, placement): a penalty, not a veto
    score = 0.6 * name + 0.2 * age + 0.2 * place
    return Match(known.child_id, round(score, 3), tuple(reasons)) if score >= THRESHOLD else None


def suggest(new: Profile, known: list[Profile], limit: int = 5) -> list[Match]:
    found = [m for k in known if k.child_id != new.child_id and (m := compare(new, k))]
    return sorted(found, key=lambda m: -m.score)[:limit]


def blocking_keys(name: str | None, alias: str | None) -> list[str]:
    """Cheap keys a database index can use to fetch only plausible candidates: the first
    letter and the consonant skeleton's first two letters of each name part (short forms and
    vowel variants share them)."""
    keys: set[str] = set()
    for text in (name, alias):
        for part in tokens(text or ""):
            keys.add(part[:1] + skeleton(part[1:])[:1])
    return sorted(keys)
