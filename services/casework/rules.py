"""Casework standards as data: stage due dates per urgency and the competencies a case needs.

Kept apart from the domain so that ``decide`` stays pure: this module reads the files once
(the deployment's ``RELAIS_CASEWORK_STANDARDS_FILE``, else ``standards.json`` beside it) and
the API hands the resulting :class:`Rules` to ``decide``."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from shared.i18n import Message
from shared.reference import codes, frameworks

HERE = Path(__file__).parent


@dataclass(frozen=True)
class CompetencyRule:
    concern_groups: frozenset[str]
    concerns: frozenset[str]
    needs: tuple[str, ...]  # competency codes without the sector, e.g. interaction_communication
    why: Message


@dataclass(frozen=True)
class Rules:
    urgency_hours: dict[str, int]
    stage_due_hours: dict[str, dict[str, int]]
    competency_rules: tuple[CompetencyRule, ...]
    concern_groups: dict[str, str]
    closure_reasons: frozenset[str]
    service_kinds: frozenset[str]
    level_ranks: dict[str, int]
    minimum_level: str = "meets_expectations"
    age_bands: tuple[tuple[str, int, int], ...] = ()

    def age_band(self, age: int | None) -> str:
        for code, low, high in self.age_bands:
            if age is not None and low <= age <= high:
                return code
        return "unknown"

    def required_competencies(
        self, concerns: list[str] | tuple[str, ...], sector: str
    ) -> list[str]:
        """The ``<sector>.<code>`` competencies a worker of ``sector`` needs for these concerns."""
        needed: list[str] = []
        for rule in self.competency_rules:
            groups = {self.concern_groups.get(c, "") for c in concerns}
            if rule.concerns.intersection(concerns) or rule.concern_groups & groups:
                needed.extend(f"{sector}.{code}" for code in rule.needs)
        return sorted(set(needed))

    def meets(self, level: str | None) -> bool:
        if level is None or level not in self.level_ranks:
            return False
        return self.level_ranks[level] >= self.level_ranks[self.minimum_level]

    def due(self, stage: str, urgency: str, start: datetime) -> datetime | None:
        if stage == "registration":
            return start + timedelta(hours=self.urgency_hours.get(urgency, 168))
        hours = self.stage_due_hours.get(stage, {}).get(urgency)
        return None if hours is None else start + timedelta(hours=hours)


@cache
def load_rules() -> Rules:
    path = Path(os.environ.get("RELAIS_CASEWORK_STANDARDS_FILE") or HERE / "standards.json")
    raw: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    ref = codes()
    return Rules(
        urgency_hours=dict(ref.urgency_hours),
        stage_due_hours={s: dict(v) for s, v in raw["stage_due_hours"].items()},
        competency_rules=tuple(
            CompetencyRule(
                concern_groups=frozenset(r.get("concern_groups", [])),
                concerns=frozenset(r.get("concerns", [])),
                needs=tuple(r["needs"]),
                why=Message(en=r["why"]["en"], fr=r["why"]["fr"]),
            )
            for r in raw["competency_rules"]
        ),
        concern_groups=dict(ref.concern_groups),
        closure_reasons=frozenset(ref.closure_reasons),
        service_kinds=frozenset(ref.service_kinds),
        level_ranks=dict(frameworks().levels),
        age_bands=ref.age_bands,
    )
