"""Casework's settings, from :class:`shared.config.Settings` (the one place the environment is
read): the standards its decisions run on, and how often its policies look."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from services.casework.domain.rules import CompetencyRule, Rules
from shared.config import Settings, get_settings
from shared.i18n import Message
from shared.reference import codes, frameworks

STANDARDS = Path(__file__).parent / "standards.json"


@dataclass(frozen=True)
class CaseworkConfig:
    rules: Rules
    policy_interval_s: float = 1.0  # the opener and the flaggers look this often

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> CaseworkConfig:
        return cls(**{"rules": load_rules(settings), **overrides})


def load_rules(settings: Settings | None = None) -> Rules:
    settings = settings or get_settings()
    return _rules(settings.casework_standards_file or STANDARDS)


@cache
def _rules(path: Path) -> Rules:
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
