"""Intake's settings, from :class:`shared.config.Settings` (the one place the environment is
read): how often its policies look, how long the child recorder leaves a child to the
request that registered its report, and the names file the duplicate matcher knows
(``RELAIS_NAMES_FILE``, or Benin's, shipped with Relais)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from services.intake.domain.names import NameKnowledge, load_knowledge
from shared.config import Settings, get_settings
from shared.reference import HERE


@dataclass(frozen=True)
class IntakeConfig:
    overdue_interval_s: float = 60.0  # screening deadlines: minutes matter, not seconds
    recorder_interval_s: float = 2.0  # children still owed a record
    corrector_interval_s: float = 2.0  # corrections casework reported
    # The request that registered a report records its children itself, within
    # milliseconds; the recorder leaves them to it for this long (a race is harmless).
    request_grace_s: float = 10.0

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> IntakeConfig:
        del settings  # nothing of intake's is configured by the environment yet
        return cls(**overrides)


DEFAULT_NAMES_FILE = HERE / "names_bj.json"


@cache
def knowledge_from(path: Path | None = None) -> NameKnowledge:
    """A names file, read once per path."""
    file = path or DEFAULT_NAMES_FILE
    return load_knowledge(json.loads(file.read_text(encoding="utf-8")))


def name_knowledge() -> NameKnowledge:
    """The names file this process was configured with."""
    return knowledge_from(get_settings().names_file)
