"""Referral's directory as the tests describe it to the services that copy it."""

from __future__ import annotations

from contracts.referral import UnitDescribed


def shelter_unit(unit: str, agency: str) -> UnitDescribed:
    """``unit`` of ``agency``: a transit shelter in Cotonou for any child."""
    return UnitDescribed(
        unit_id=unit,
        agency_id=agency,
        unit_name="Unit",
        commune="bj-littoral-cotonou",
        service_kinds=["transit_shelter"],
        opening_hours={},
        languages=["fr"],
        min_age=0,
        max_age=17,
        sexes=[],
    )
