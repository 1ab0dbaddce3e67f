"""Why a pair of child records was suggested, in French and English, for the screener who
decides ("Seun is a short form of Oluwaseun; same commune; ages 13 and 14").

The explanation names the children as written: it is child data, kept with the suggestion
(a sensitive field), never logged. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from services.intake.domain.names import Part, Relation
from shared.i18n import Message


@dataclass(frozen=True)
class NameMatch:
    """How the names of two records align: the level of the name field and its parts."""

    level: str
    pairs: tuple[tuple[Part, Part, Relation], ...]  # (new part, known part, relation)
    extra: bool  # one side has parts the other lacks
    via_alias: bool
    swapped: bool


_PAIR = {
    Relation.SPELLING: Message(
        en="{a} and {b} are two spellings of one name",
        fr="{a} et {b} sont deux graphies d'un même nom",
    ),
    Relation.VARIANT: Message(
        en="{a} and {b} are forms of one name", fr="{a} et {b} sont deux formes d'un même nom"
    ),
    Relation.CLOSE: Message(
        en="{a} and {b} are spelled almost alike", fr="{a} et {b} s'écrivent presque pareil"
    ),
    Relation.ENDING: Message(
        en="{a} and {b} differ only in the last vowel",
        fr="{a} et {b} ne diffèrent que par la dernière voyelle",
    ),
    Relation.TWIN: Message(
        en="{a} and {b} are names given to twins",
        fr="{a} et {b} sont des noms donnés à des jumeaux",
    ),
    Relation.OTHER_SEX: Message(
        en="{a} and {b} are a boy's and a girl's name",
        fr="{a} et {b} sont un nom de garçon et un nom de fille",
    ),
    Relation.DISTINCT: Message(
        en="{a} and {b} are different names", fr="{a} et {b} sont des noms différents"
    ),
}
_SHORT = {
    Relation.NICKNAME: Message(en="{a} is a nickname for {b}", fr="{a} est un diminutif de {b}"),
    Relation.CLIPPED: Message(
        en="{a} is a short form of {b}", fr="{a} est une forme courte de {b}"
    ),
    Relation.SHORT: Message(en="{a} is a short form of {b}", fr="{a} est une forme courte de {b}"),
}
_FIELDS: dict[tuple[str, str], Message] = {
    ("sex", "same"): Message(en="same sex", fr="même sexe"),
    ("sex", "unknown"): Message(
        en="sex not given in one report", fr="sexe non précisé dans un signalement"
    ),
    ("place", "same_commune"): Message(en="same commune", fr="même commune"),
    ("place", "same_department"): Message(en="same department", fr="même département"),
    ("place", "other_department"): Message(en="another department", fr="autre département"),
    ("reporter", "same"): Message(en="same reporter", fr="même déclarant"),
    ("whereabouts", "same"): Message(en="same whereabouts", fr="même lieu de vie"),
    ("household", "sibling_pattern"): Message(
        en="same reporter and close ages: perhaps siblings",
        fr="même déclarant et âges proches : peut-être des frères et sœurs",
    ),
}


def _pair(a: Part, b: Part, rel: Relation) -> Message | None:
    if rel in _SHORT:
        short, full = sorted((a, b), key=lambda p: len(p.sound))
        return _SHORT[rel].format(a=short.written, b=full.written)
    found = _PAIR.get(rel)
    return found.format(a=a.written, b=b.written) if found else None


def _ages(ages: tuple[int, int] | None) -> str:
    if ages is None:
        return "?"
    return str(ages[0]) if ages[0] == ages[1] else f"{ages[0]}-{ages[1]}"


Ages = tuple[int, int] | None


def explain(
    levels: Mapping[str, str], names: NameMatch, new_ages: Ages, known_ages: Ages
) -> Message:
    clauses: list[Message] = []
    said = [m for a, b, rel in names.pairs if (m := _pair(a, b, rel))]
    if names.level == "exact":
        clauses.append(Message(en="same name", fr="même nom"))
    for a, b, rel in names.pairs:
        if rel == Relation.SAME and a.written.lower() != b.written.lower():
            clauses.append(
                Message(
                    en=f"{a.written} and {b.written} are one name written differently",
                    fr=f"{a.written} et {b.written} sont un même nom écrit autrement",
                )
            )
    clauses.extend(said)
    if names.level in ("partial", "distinct") and not said:
        clauses.append(Message(en="names only partly alike", fr="noms en partie semblables"))
    if names.swapped:
        clauses.append(Message(en="names in another order", fr="noms dans un autre ordre"))
    if names.via_alias:
        clauses.append(Message(en="through the other name given", fr="par l'autre nom donné"))
    elif names.extra:
        clauses.append(
            Message(en="one report gives more names", fr="un signalement donne plus de noms")
        )
    for key in (("sex", levels["sex"]), ("place", levels["place"])):
        if key in _FIELDS:
            clauses.append(_FIELDS[key])
    age = levels["age"]
    if age == "same_date":
        clauses.append(Message(en="same date of birth", fr="même date de naissance"))
    elif age != "unknown":
        one, two = _ages(new_ages), _ages(known_ages)
        if one == two:
            clauses.append(Message(en=f"age {one} in both", fr=f"{one} ans dans les deux cas"))
        else:
            clauses.append(Message(en=f"ages {one} and {two}", fr=f"âges {one} et {two} ans"))
    for key in (
        ("reporter", levels["reporter"]),
        ("whereabouts", levels["whereabouts"]),
        ("household", levels["household"]),
    ):
        if key in _FIELDS:
            clauses.append(_FIELDS[key])
    en = "; ".join(c.en for c in clauses)
    fr = " ; ".join(c.fr for c in clauses)
    return Message(en=en[:1].upper() + en[1:], fr=fr[:1].upper() + fr[1:])
