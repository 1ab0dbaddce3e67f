"""The indicators of referrals and services: referrals by their fate, the time to acceptance,
and the services available."""

from __future__ import annotations

from services.reporting.domain.indicator import HOURS, Indicator
from shared.i18n import Message

REFERRAL_DIMS = ("service_kind", "to_unit", "to_agency", "from_agency", "urgency")


def _referrals(code: str, en: str, fr: str, basis_en: str, basis_fr: str) -> Indicator:
    return Indicator(
        code=code,
        label=Message(en=en, fr=fr),
        description=Message(
            en=f"{en}, counted on the day the referral was {basis_en}.",
            fr=f"{fr}, comptées le jour où l'orientation a été {basis_fr}.",
        ),
        unit=Message(en="referrals", fr="orientations"),
        measure="count",
        period_basis=Message(
            en=f"when the referral was {basis_en}", fr=f"date où l'orientation a été {basis_fr}"
        ),
        breakdowns=REFERRAL_DIMS,
    )


REFERRAL_INDICATORS: tuple[Indicator, ...] = (
    _referrals("referrals_sent", "Referrals sent", "Orientations émises", "made", "émise"),
    _referrals(
        "referrals_accepted",
        "Referrals accepted",
        "Orientations acceptées",
        "accepted",
        "acceptée",
    ),
    _referrals(
        "referrals_declined",
        "Referrals declined",
        "Orientations refusées",
        "declined",
        "refusée",
    ),
    _referrals(
        "referrals_completed",
        "Referrals completed",
        "Orientations menées à terme",
        "completed",
        "menée à terme",
    ),
    _referrals(
        "referrals_overdue",
        "Referrals overdue",
        "Orientations en retard",
        "flagged overdue",
        "signalée en retard",
    ),
    Indicator(
        code="referral_time_to_acceptance",
        label=Message(en="Time to accept a referral", fr="Délai d'acceptation des orientations"),
        description=Message(
            en="Hours from a referral being made to its acceptance: number, median, mean "
            "and 90th percentile.",
            fr="Heures entre l'émission d'une orientation et son acceptation : nombre, "
            "médiane, moyenne et 90e centile.",
        ),
        unit=Message(en="referrals", fr="orientations"),
        measure="duration",
        period_basis=Message(en="when the referral was accepted", fr="date d'acceptation"),
        breakdowns=("service_kind", "to_unit", "to_agency", "urgency"),
        value_label=HOURS,
    ),
    Indicator(
        code="service_availability",
        label=Message(en="Service availability", fr="Disponibilité des services"),
        description=Message(
            en="Per hub (or unit without a hub): the expected service kinds that the hub "
            "and its units offer, e.g. 11 of 15, as the directory stands now.",
            fr="Par pôle (ou unité hors pôle) : les types de service attendus que le pôle "
            "et ses unités offrent, p. ex. 11 sur 15, selon l'annuaire actuel.",
        ),
        unit=Message(en="service kinds", fr="types de service"),
        measure="availability",
        period_basis=Message(en="the directory now", fr="l'annuaire actuel"),
        breakdowns=(),
        filters=("agency", "department", "commune"),
        protected=False,
        periods=(),
    ),
)
