"""Communes for the type-ahead, from the configured location hierarchy: each commune labelled
with the area above it ("Djougou — Donga"), matched without accents or case, on its own name
or its department's, so typing a department lists its communes."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import cache

from shared.reference import locations

UNKNOWN = "unknown"
PRELOAD_AT_MOST = 150  # a small hierarchy ships whole in the page; a big one is searched


def fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold().strip()


@dataclass(frozen=True)
class Place:
    code: str
    label: str
    keys: tuple[str, ...]


@cache
def places() -> tuple[Place, ...]:
    hierarchy = locations()
    found = []
    for area in hierarchy.areas.values():
        if area.level != 1:
            continue
        parent = hierarchy.areas[area.parent].name if area.parent else ""
        label = f"{area.name} — {parent}" if parent else area.name
        found.append(Place(area.code, label, (fold(area.name), fold(parent), fold(label))))
    return tuple(sorted(found, key=lambda p: p.keys[0]))


def search(query: str, limit: int = 12) -> list[Place]:
    wanted = fold(query)
    if not wanted:
        return []
    starts = [p for p in places() if any(k.startswith(wanted) for k in p.keys[:2])]
    inside = [p for p in places() if p not in starts and any(wanted in k for k in p.keys)]
    return (starts + inside)[:limit]


def resolve(text: str) -> str | None:
    """The commune code a typed value names: a code, a label from the list, or a name that
    only one commune has; ``unknown`` for the unknown commune. None if it names none."""
    wanted = fold(text)
    if not wanted:
        return None
    if wanted in (UNKNOWN, fold("Commune inconnue"), fold("Unknown commune")):
        return UNKNOWN
    for place in places():
        if wanted in (place.code, place.keys[2]):
            return place.code
    named = [p for p in places() if p.keys[0] == wanted]
    return named[0].code if len(named) == 1 else None


def label_of(code: str | None) -> str:
    if not code:
        return ""
    for place in places():
        if place.code == code:
            return place.label
    return code
