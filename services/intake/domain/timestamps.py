"""How moments are written in intake's events and read back: ISO 8601, UTC as ``Z``."""

from __future__ import annotations

from datetime import datetime


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
