"""What an indicator is: its labels, what it counts, what places a record in a period, and
which breakdowns and filters it allows. The indicators themselves are in the
``indicators_*`` modules, by theme; :mod:`services.reporting.domain.catalogue` holds them all."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from shared.i18n import Message

Measure = Literal["count", "share", "duration", "distribution", "availability"]
HOURS = Message(en="hours", fr="heures")


@dataclass(frozen=True)
class Indicator:
    code: str
    label: Message
    description: Message
    unit: Message  # what one counted thing is
    measure: Measure
    period_basis: Message  # which date places a record in a period
    breakdowns: tuple[str, ...]
    filters: tuple[str, ...] = ()
    # A record may hold several values of these (a report's concerns, a child's services):
    # it then counts once in each, and totals count each thing once.
    multi_valued: frozenset[str] = frozenset()
    # Counts of children, their records, or staff: small cells are suppressed for every role
    # but the auditor. Directory facts and publications are not about people.
    protected: bool = True
    # Measured at the end of each period (a stock) rather than counted over it (a flow).
    stock: bool = False
    # Extra words for a share's numerator, or a duration's / distribution's values.
    value_label: Message | None = None
    periods: tuple[str, ...] = ("day", "month", "quarter", "year")

    @property
    def allowed_filters(self) -> tuple[str, ...]:
        return self.filters or self.breakdowns
