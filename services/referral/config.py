"""The referral service's settings as its routes and policies use them: deadlines per
urgency, the escalation delay, the grace period of the capacity sweep, the country's time
zone, and a clock. Read from :class:`shared.config.Settings` (environment variables,
validated at start-up); tests build one with their own clock and intervals."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from shared.config import Settings


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _default(name: str) -> Any:
    return Settings.model_fields[name].default


def _hours(settings: Settings | None = None) -> dict[str, float]:
    def get(name: str) -> float:
        return float(getattr(settings, name) if settings is not None else _default(name))

    return {
        urgency: get(f"referral_due_hours_{urgency}") for urgency in ("emergency", "high", "normal")
    }


@dataclass
class ReferralConfig:
    clock: Callable[[], datetime] = _utc_now
    # Hours to accept, per urgency (the domain's codes: emergency, high, normal).
    deadline_hours: dict[str, float] = field(default_factory=_hours)
    escalate_after: timedelta = timedelta(hours=_default("referral_escalate_after_hours"))
    reservation_grace: timedelta = timedelta(minutes=_default("referral_reservation_grace_minutes"))
    time_zone: str = _default("time_zone")
    interval_s: float = 60.0  # deadlines and the capacity sweep: minutes matter, not seconds
    requests_interval_s: float = 1.0  # a worker waits to see the referral of their plan action

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> ReferralConfig:
        values: dict[str, Any] = {
            "deadline_hours": _hours(settings),
            "escalate_after": timedelta(hours=settings.referral_escalate_after_hours),
            "reservation_grace": timedelta(minutes=settings.referral_reservation_grace_minutes),
            "time_zone": settings.time_zone,
        }
        return cls(**{**values, **overrides})

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def local(self, moment: datetime) -> datetime:
        """``moment`` in the country's time zone; a time without an offset is taken as local."""
        if moment.tzinfo is None:
            return moment.replace(tzinfo=self.zone)
        return moment.astimezone(self.zone)
