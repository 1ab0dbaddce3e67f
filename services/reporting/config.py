"""Reporting's settings, from :class:`shared.config.Settings` (the one place the environment is
read): how often the periodic report policy looks. (How long published reports are revised,
``RELAIS_REPORT_REVISION_DAYS``, is read from the runtime's settings.)"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.config import Settings


@dataclass(frozen=True)
class ReportingConfig:
    reports_interval_s: float = 60.0  # periodic reports: publish, revise

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> ReportingConfig:
        del settings  # nothing of reporting's own is configured by the environment yet
        return cls(**overrides)
