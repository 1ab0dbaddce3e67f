"""Wiring of the intake service."""

from __future__ import annotations

from services.intake import api, api_children, api_complaints
from services.intake.case_corrections import child_corrector
from services.intake.policies import child_recorder, screening_overdue
from services.intake.projections import projection
from services.referral import events as _referral_events  # noqa: F401 - UnitDescribed
from shared.service import ServiceSpec
from shared.units import unit_directory

# Which agency each unit belongs to, learnt from referral's events: a token's unit is checked.
units_projection, unit_agency = unit_directory("intake")

spec = ServiceSpec(
    name="intake",
    context="intake",
    title="Relais intake: reports, children, screening, duplicates, complaints",
    projections=[projection, units_projection],
    routers=[api.router, api_children.router, api_complaints.router],
    background=[screening_overdue, child_recorder, child_corrector],
    unit_agency=unit_agency,
)
