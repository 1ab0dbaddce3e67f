"""Intake's settings, from :class:`shared.config.Settings` (the one place the environment is
read): how often its policies look, and how long the child recorder leaves a child to the
request that registered its report."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.config import Settings


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
