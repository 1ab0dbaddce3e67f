"""How an event's values become fact values: instants in UTC, days, sex and age-band codes.
An unreadable value is placed as well as the log allows, never a reason to drop the fact."""

from __future__ import annotations

from datetime import UTC, date, datetime

from services.reporting.domain.dimensions import SEXES, UNKNOWN
from shared.recorded import RecordedEvent
from shared.reference import codes


def instant(text: str | None, fallback: datetime) -> datetime:
    """An RFC 3339 field of an event, in UTC; the event's own time if it cannot be read (the
    fact still counts, placed as well as the log allows)."""
    if text:
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            return fallback
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return fallback


def day_of(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text[:10]) if text else None
    except ValueError:
        return None


def event_time(recorded: RecordedEvent) -> datetime:
    return instant(recorded.time, datetime(1970, 1, 1, tzinfo=UTC))


def sex_code(value: str | None) -> str:
    """Female, male and unknown as recorded; any self-described value is reported as other."""
    if not value:
        return UNKNOWN
    value = value.strip().lower()
    return value if value in SEXES else "other"


def age_band(value: str | None) -> str:
    known = {code for code, _, _ in codes().age_bands}
    return value if value in known else UNKNOWN


def age_on(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def band_from(
    age_from_birth: int | None, age_years: int | None, age_min: int | None, age_max: int | None
) -> str:
    """The band of what is known of an age, by the same priority intake uses: birth date,
    stated age, then a range that falls inside one band."""
    bands = codes()
    if age_from_birth is not None:
        return bands.age_band(age_from_birth)
    if age_years is not None:
        return bands.age_band(age_years)
    if age_min is not None and age_max is not None:
        low, high = bands.age_band(age_min), bands.age_band(age_max)
        return low if low == high else UNKNOWN
    return UNKNOWN
