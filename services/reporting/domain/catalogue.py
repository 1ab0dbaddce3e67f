"""The indicators and the dimensions they break down by, as data: codes, French and English
labels, what each indicator counts, what places a record in a period, and which breakdowns
and filters it allows. ``GET /statistics`` is this module, serialised."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from services.reporting.domain.dimensions import DIMENSIONS, Dimension
from services.reporting.domain.indicator import Indicator
from services.reporting.domain.indicators_cases import CASE_INDICATORS
from services.reporting.domain.indicators_referrals import REFERRAL_INDICATORS
from services.reporting.domain.indicators_workforce import WORKFORCE_INDICATORS
from shared.i18n import Message

INDICATORS: dict[str, Indicator] = {
    i.code: i for i in (*CASE_INDICATORS, *REFERRAL_INDICATORS, *WORKFORCE_INDICATORS)
}


@dataclass(frozen=True)
class Catalogue:
    indicators: Mapping[str, Indicator] = field(default_factory=lambda: INDICATORS)
    dimensions: Mapping[str, Dimension] = field(default_factory=lambda: DIMENSIONS)


def message_dict(message: Message) -> dict[str, str]:
    return {"en": message.en, "fr": message.fr}


def describe_indicator(indicator: Indicator) -> dict[str, object]:
    return {
        "code": indicator.code,
        "label": message_dict(indicator.label),
        "description": message_dict(indicator.description),
        "unit": message_dict(indicator.unit),
        "measure": indicator.measure,
        "period_basis": message_dict(indicator.period_basis),
        "periods": list(indicator.periods),
        "breakdowns": list(indicator.breakdowns),
        "filters": list(indicator.allowed_filters),
        "multi_valued": sorted(indicator.multi_valued),
        "protected": indicator.protected,
        "stock": indicator.stock,
    }


def describe_dimension(dimension: Dimension) -> dict[str, object]:
    values = dimension.values() if dimension.values else None
    return {
        "code": dimension.code,
        "label": message_dict(dimension.label),
        "values": (
            [{"code": c, "label": message_dict(m)} for c, m in values.items()]
            if values is not None
            else None
        ),
    }
