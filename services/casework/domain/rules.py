"""Casework standards as data: stage due dates per urgency and the competencies a case needs.

``decide`` takes them as an argument so that it stays pure: ``config.py`` reads the files
once (the deployment's ``RELAIS_CASEWORK_STANDARDS_FILE``, else ``standards.json``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.i18n import Message


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
