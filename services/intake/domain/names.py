"""What two written names have to do with each other, knowing the region's names.

Spelling variants of one name mostly differ in vowels, doubled letters, accents, tone marks,
the letters of the national alphabets and French vs English spelling (Fatoumata / Fatimata,
Kossi / Kosi, Gbɛnu / Gbènou, Chantal / Shantal). Other relations need knowledge, which is
data (``NameKnowledge``, loaded from a country's names file): transliterations of one
Arabic-origin name (Mohamed / Mamadou / Mamman), Yoruba short forms that drop a praise-name
prefix (Oluwaseun / Seun, Babatoundé / Toundé), nicknames (Emmanuel / Manu), and the names
that look alike yet tell two children apart: twins' names (Hassana / Housseina, Taiwo /
Kehinde), a boy's and a girl's form (Zinsou / Zinsa), different day names (Kossi / Koffi).

Pure: no I/O. Similarity comes from ``rapidfuzz``, phonetic codes from ``jellyfish``."""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

import jellyfish
from rapidfuzz.distance import JaroWinkler, Levenshtein

_SOUNDS = (
    ("tch", "c"),
    ("ch", "c"),
    ("sh", "c"),  # English spelling of the French ch (Shantal / Chantal), Yoruba ṣ
    ("gb", "b"),  # the Fon/Ewe gb is often written b (Houngbo / Hounbo)
    ("dj", "j"),  # French spelling of j (Adjayi / Ajayi, Djénabou / Jenabu)
    ("dz", "j"),  # Ewe dz (Kodzo / Kodjo)
    ("ph", "f"),
    ("kh", "k"),
    ("ou", "u"),
    ("oo", "u"),
    ("ck", "k"),
    ("qu", "k"),
    ("q", "k"),
    ("c", "k"),
    ("x", "ks"),
    ("w", "u"),
    ("y", "i"),
    ("ee", "i"),
    ("h", ""),
)
_VOWELS = "aeiou"


def fold(text: str, letters: Mapping[str, str] | None = None) -> str:
    """Lower case, national letters folded (ɛ→e, ɔ→o, ɖ→d...), accents and tone marks
    dropped, apostrophes removed; letters and single spaces only."""
    if letters:
        text = "".join(letters.get(c, c) for c in text)
    decomposed = unicodedata.normalize("NFKD", text.lower())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    plain = re.sub(r"['’`]", "", plain)
    return re.sub(r"[^a-z]+", " ", plain).strip()


def sound(token: str) -> str:
    """A spelling-insensitive form of one folded name part; vowels are kept (Tola and Tolu
    are two names)."""
    out = re.sub(r"di(?=[aeou])", "j", token)  # Diallo / Djallo, Diénabou / Djénabou
    for spelled, said in _SOUNDS:
        out = out.replace(spelled, said)
    return re.sub(r"(.)\1+", r"\1", out)  # Kossi / Kosi, Mohammed / Mohamed


def stem(said: str) -> str:
    """The sound without its ending: the Arabic-origin feminine -atou (Rakiatou / Rakia),
    the Gbe diminutive -vi (Kossivi / Kossi) and final vowels (Mariama / Mariame / Mariam)."""
    out = said
    if len(out) > 5 and out.endswith("atu"):
        out = out[:-2]
    if len(out) > 4 and out.endswith("vi"):
        out = out[:-2]
    stripped = out.rstrip(_VOWELS)
    return stripped if len(stripped) >= 2 else out


def skeleton(said: str) -> str:
    return re.sub(f"[{_VOWELS}]", "", said)


def code(said: str) -> str:
    """A phonetic code for blocking: metaphone of the stem (consonants that sound alike)."""
    return jellyfish.metaphone(stem(said)) or stem(said)


MEMO_SIZE = 100_000  # remembered name answers per process (a few tens of MB at most)


@dataclass(frozen=True)
class Part:
    """One part of a written name: as written (for explanations) and its folded forms."""

    written: str
    folded: str
    sound: str
    stem: str


class Relation(IntEnum):
    """How two name parts relate, strongest first when aligning names."""

    DIFFERENT = 0
    DISTINCT = 1  # known to be different names that look alike
    OTHER_SEX = 2  # a boy's and a girl's form of one name
    TWIN = 3  # names given to the two children of a twin birth
    ENDING = 4  # differ only in a full final vowel (Tola / Tolu): weak evidence
    CLOSE = 5  # spelled almost alike (a typo, a dropped letter)
    SHORT = 6  # one is the start of the other (Fatou / Fatoumata)
    CLIPPED = 7  # a known short form, or a Yoruba name without its prefix
    NICKNAME = 8
    VARIANT = 9  # listed forms of one name (transliterations)
    SPELLING = 10  # same sound, different spelling
    SAME = 11


NEGATIVE = (Relation.DISTINCT, Relation.OTHER_SEX, Relation.TWIN)


@dataclass(frozen=True)
class NameKnowledge:
    letters: Mapping[str, str]
    clip_prefixes: tuple[str, ...]  # as sounds
    groups: Mapping[str, frozenset[int]]  # sound -> variant groups
    group_stems: Mapping[str, frozenset[int]]  # stem (4+ letters) -> variant groups
    group_names: tuple[str, ...]
    shorts: frozenset[tuple[str, str]]  # (short sound, full sound)
    nicknames: frozenset[tuple[str, str]]  # (nickname sound, full sound)
    twins: Mapping[str, frozenset[tuple[int, int]]]  # sound -> (pair, side)
    sexes: Mapping[str, frozenset[tuple[int, int]]]  # sound -> (pair, 0 boy / 1 girl)
    distinct: Mapping[str, frozenset[int]]
    joined: frozenset[str]  # multi-word forms, as one sound (mariejose)
    # What ``parts`` and ``relate`` already answered: both are functions of their arguments
    # and of this knowledge alone, and a registration compares its names with up to 200
    # candidates whose names recur (decision 0026). Bounded: emptied when full.
    _memo: dict[tuple[object, ...], object] = field(default_factory=dict, compare=False, repr=False)

    def said(self, form: str) -> str:
        return sound(fold(form, self.letters).replace(" ", ""))

    def remember(self, key: tuple[object, ...], value: object) -> None:
        if len(self._memo) >= MEMO_SIZE:
            self._memo.clear()
        self._memo[key] = value

    def parts(self, text: str | None) -> tuple[Part, ...]:
        """The parts of a written name; two parts that together are a known form (Marie
        Josée) become one."""
        if not text:
            return ()
        key = ("parts", text)
        found = self._memo.get(key)
        if found is None:
            found = self._parts(text)
            self.remember(key, found)
        return found  # type: ignore[return-value]

    def _parts(self, text: str) -> tuple[Part, ...]:
        written = [w for w in re.split(r"[\s\-]+", text.strip()) if fold(w, self.letters)]
        out: list[Part] = []
        i = 0
        while i < len(written):
            if i + 1 < len(written):
                pair = f"{written[i]} {written[i + 1]}"
                if self.said(pair) in self.joined:
                    out.append(self._part(pair))
                    i += 2
                    continue
            out.append(self._part(written[i]))
            i += 1
        return tuple(out)

    def _part(self, written: str) -> Part:
        folded = fold(written, self.letters).replace(" ", "")
        said = sound(folded)
        return Part(written, folded, said, stem(said))

    def relate(self, a: Part, b: Part) -> Relation:
        # A part's sound and stem follow from its folded form (``_part``).
        key = ("relate", a.folded, b.folded)
        found = self._memo.get(key)
        if found is None:
            found = self._relate(a, b)
            self.remember(key, found)
        return found  # type: ignore[return-value]

    def _relate(self, a: Part, b: Part) -> Relation:
        if a.folded == b.folded:
            return Relation.SAME
        if a.sound == b.sound:
            return Relation.SPELLING
        if _paired(self.twins, a.sound, b.sound):
            return Relation.TWIN
        if _paired(self.sexes, a.sound, b.sound):
            return Relation.OTHER_SEX
        if self.distinct.get(a.sound, frozenset()) & self.distinct.get(b.sound, frozenset()):
            return Relation.DISTINCT
        if self._group(a) & self._group(b):
            return Relation.VARIANT
        if (a.sound, b.sound) in self.nicknames or (b.sound, a.sound) in self.nicknames:
            return Relation.NICKNAME
        if (a.sound, b.sound) in self.shorts or (b.sound, a.sound) in self.shorts:
            return Relation.CLIPPED
        if a.stem == b.stem and len(a.stem) >= 3:
            return Relation.SPELLING if _mute_ending(a, b) else Relation.ENDING
        if skeleton(a.sound) == skeleton(b.sound) and len(skeleton(a.sound)) >= 3:
            return Relation.SPELLING  # Fatoumata / Fatimata: vowels differ, consonants agree
        short, long_ = sorted((a, b), key=lambda p: len(p.sound))
        if len(short.stem) >= 3 and long_.sound.startswith(short.stem):
            return Relation.SHORT
        if self._clipped(short, long_):
            return Relation.CLIPPED
        distance = Levenshtein.distance(a.sound, b.sound)
        close = distance <= 1 or (distance == 2 and min(len(a.sound), len(b.sound)) >= 7)
        if close and JaroWinkler.similarity(a.sound, b.sound) >= 0.88:
            return Relation.CLOSE
        return Relation.DIFFERENT

    def _group(self, p: Part) -> frozenset[int]:
        found = self.groups.get(p.sound)
        if found:
            return found
        return self.group_stems.get(p.stem, frozenset()) if len(p.stem) >= 4 else frozenset()

    def _clipped(self, short: Part, long_: Part) -> bool:
        """A Yoruba name without its praise-name prefix (Olumide / Mide)."""
        for prefix in self.clip_prefixes:
            rest = long_.sound[len(prefix) :]
            if long_.sound.startswith(prefix) and len(rest) >= 3 and stem(rest) == short.stem:
                return True
        return False

    def codes(self, p: Part) -> set[str]:
        """Blocking codes of one part: its phonetic code, its variant groups, and the code of
        the name without a Yoruba prefix."""
        out = {f"m:{code(p.sound)}"}
        out.update(f"g:{g}" for g in self._group(p))
        for prefix in self.clip_prefixes:
            rest = p.sound[len(prefix) :]
            if p.sound.startswith(prefix) and len(rest) >= 3:
                out.add(f"m:{code(rest)}")
        for short, full in (*self.shorts, *self.nicknames):
            if p.sound == full:
                out.add(f"m:{code(short)}")
        return out


def _paired(table: Mapping[str, frozenset[tuple[int, int]]], a: str, b: str) -> bool:
    left, right = table.get(a, frozenset()), table.get(b, frozenset())
    return any(pa == pb and sa != sb for pa, sa in left for pb, sb in right)


def _mute_ending(a: Part, b: Part) -> bool:
    """Same stem; the endings differ only by a French mute e or a dropped vowel (Mariame,
    Mariam) or an Arabic-origin -atou / Gbe -vi, not by a full vowel (Tola / Tolu)."""
    ends = {a.sound[len(a.stem) :], b.sound[len(b.stem) :]}
    ends.discard("")
    return len(ends) < 2 or "e" in ends or any(len(e) > 1 for e in ends)


def load_knowledge(raw: Mapping[str, Any]) -> NameKnowledge:
    """Build the knowledge from a names file's content (see ``shared/reference/names_bj.json``)."""
    letters = {k: v for k, v in raw.get("letters", {}).items() if len(k) == 1}

    def said(form: str) -> str:
        return sound(fold(form, letters).replace(" ", ""))

    groups: dict[str, set[int]] = defaultdict(set)
    group_stems: dict[str, set[int]] = defaultdict(set)
    names: list[str] = []
    for i, group in enumerate(raw.get("variants", [])):
        names.append(group["name"])
        for form in group["forms"]:
            groups[said(form)].add(i)
            if len(stem(said(form))) >= 4:
                group_stems[stem(said(form))].add(i)
    shorts = {
        (said(s), said(f))
        for entry in raw.get("short_forms", [])
        for s in entry["short"]
        for f in entry["full"]
    }
    nicknames = {
        (said(n), said(f))
        for entry in raw.get("nicknames", [])
        for n in entry["nick"]
        for f in entry["full"]
    }

    def sides(
        entries: Iterable[Mapping[str, Any]], keys: tuple[str, str]
    ) -> dict[str, set[tuple[int, int]]]:
        out: dict[str, set[tuple[int, int]]] = defaultdict(set)
        for i, entry in enumerate(entries):
            for side, key in enumerate(keys):
                for form in entry[key]:
                    out[said(form)].add((i, side))
        return out

    twins = sides(raw.get("twins", []), ("first", "second"))
    sexes = sides(raw.get("sex_pairs", []), ("male", "female"))
    distinct: dict[str, set[int]] = defaultdict(set)
    for i, entry in enumerate(raw.get("distinct", [])):
        for form in entry["names"]:
            distinct[said(form)].add(i)
    every_form = [
        form
        for section in ("variants", "short_forms", "nicknames")
        for entry in raw.get(section, [])
        for key in ("forms", "short", "full", "nick")
        for form in entry.get(key, [])
    ]
    return NameKnowledge(
        letters=letters,
        clip_prefixes=tuple(
            sorted({said(p) for p in raw.get("clip_prefixes", {}).get("forms", [])}, key=len)[::-1]
        ),
        groups={k: frozenset(v) for k, v in groups.items()},
        group_stems={k: frozenset(v) for k, v in group_stems.items()},
        group_names=tuple(names),
        shorts=frozenset(shorts),
        nicknames=frozenset(nicknames),
        twins={k: frozenset(v) for k, v in twins.items()},
        sexes={k: frozenset(v) for k, v in sexes.items()},
        distinct={k: frozenset(v) for k, v in distinct.items()},
        joined=frozenset(said(f) for f in every_form if " " in f.strip()),
    )
