"""Reference data every service shares: codes with French and English labels (concerns,
vulnerabilities, service kinds, urgencies, closure reasons, sexes, channels, age bands), the
location hierarchy and the competency frameworks. Data, not code: a deployment points
``RELAIS_LOCATIONS_FILE`` / ``RELAIS_COMPETENCIES_FILE`` at its own files (another country's
regions, another framework) without touching the code."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from shared.config import get_settings
from shared.i18n import LocalisedValueError, Message

HERE = Path(__file__).parent


def _label(raw: dict[str, str]) -> Message:
    return Message(en=raw["en"], fr=raw["fr"])


@dataclass(frozen=True)
class Codes:
    concerns: dict[str, Message]
    concern_groups: dict[str, str]
    vulnerabilities: dict[str, Message]
    service_kinds: dict[str, Message]
    urgencies: dict[str, Message]
    urgency_hours: dict[str, int]
    closure_reasons: dict[str, Message]
    sexes: dict[str, Message]
    channels: dict[str, Message]
    age_bands: tuple[tuple[str, int, int], ...]

    def age_band(self, age: int | None) -> str:
        if age is None:
            return "unknown"
        for code, low, high in self.age_bands:
            if low <= age <= high:
                return code
        return "unknown"


@cache
def codes() -> Codes:
    raw: dict[str, Any] = json.loads((HERE / "codes.json").read_text(encoding="utf-8"))

    def labels(key: str) -> dict[str, Message]:
        return {code: _label(v["label"]) for code, v in raw[key].items()}

    return Codes(
        concerns=labels("concerns"),
        concern_groups={c: v["group"] for c, v in raw["concerns"].items()},
        vulnerabilities=labels("vulnerabilities"),
        service_kinds=labels("service_kinds"),
        urgencies=labels("urgencies"),
        urgency_hours={c: int(v["hours"]) for c, v in raw["urgencies"].items()},
        closure_reasons=labels("closure_reasons"),
        sexes=labels("sexes"),
        channels=labels("channels"),
        age_bands=tuple((b["code"], int(b["min"]), int(b["max"])) for b in raw["age_bands"]),
    )


@dataclass(frozen=True)
class Area:
    code: str
    name: str
    level: int  # 0: top level (e.g. department), 1: next (e.g. commune)
    parent: str | None


@dataclass(frozen=True)
class Locations:
    country: str
    levels: tuple[Message, ...]
    areas: dict[str, Area]

    def parent_of(self, code: str) -> str | None:
        return self.areas[code].parent

    def top_level_of(self, code: str) -> str:
        area = self.areas[code]
        while area.parent is not None:
            area = self.areas[area.parent]
        return area.code

    def at_level(self, level: int) -> list[Area]:
        return [a for a in self.areas.values() if a.level == level]


@cache
def locations() -> Locations:
    path = get_settings().locations_file or HERE / "locations_bj.json"
    raw: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    areas: dict[str, Area] = {}

    def walk(nodes: list[dict[str, Any]], level: int, parent: str | None) -> None:
        for node in nodes:
            areas[node["code"]] = Area(node["code"], node["name"], level, parent)
            walk(node.get("children", []), level + 1, node["code"])

    walk(raw["areas"], 0, None)
    return Locations(raw["country"], tuple(_label(lv) for lv in raw["levels"]), areas)


@dataclass(frozen=True)
class Competency:
    code: str  # "<sector>.<competency>"
    sector: str
    label: Message


@dataclass(frozen=True)
class Frameworks:
    name: str
    sectors: dict[str, Message]
    competencies: dict[str, Competency]
    levels: dict[str, int]  # level code -> rank (higher is better)
    level_labels: dict[str, Message]

    def meets(self, level: str, minimum: str = "meets_expectations") -> bool:
        return self.levels[level] >= self.levels[minimum]


@cache
def frameworks() -> Frameworks:
    path = get_settings().competencies_file or HERE / "competencies_ibcr.json"
    raw: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    competencies = {
        c["code"]: Competency(c["code"], sector, _label(c["label"]))
        for sector, s in raw["sectors"].items()
        for c in s["competencies"]
    }
    return Frameworks(
        name=raw["framework"],
        sectors={k: _label(s["label"]) for k, s in raw["sectors"].items()},
        competencies=competencies,
        levels={k: int(v["rank"]) for k, v in raw["levels"].items()},
        level_labels={k: _label(v["label"]) for k, v in raw["levels"].items()},
    )


def check_code(value: str, known: Mapping[str, object], en: str, fr: str) -> str:
    """For pydantic validators: ``value`` if it is a known code, else a reason in both
    languages. The rejected value is never repeated: a misplaced field may hold a child's
    name, and error bodies end up in logs."""
    if value in known:
        return value
    if len(known) <= 20:
        options = ", ".join(known)
        raise LocalisedValueError(
            Message(
                en=f"Unknown {en}; expected one of: {options}.",
                fr=f"{fr} inconnu(e) ; valeurs possibles : {options}.",
            )
        )
    raise LocalisedValueError(
        Message(
            en=f"Unknown {en}; see the reference codes.",
            fr=f"{fr} inconnu(e) ; voir les codes de référence.",
        )
    )
