"""Wiring of the intake service."""

from __future__ import annotations

from services.intake import api, api_children
from services.intake.policies import screening_overdue
from services.intake.projections import projection
from shared.service import ServiceSpec

spec = ServiceSpec(
    name="intake",
    context="intake",
    title="Relais intake: reports, children, screening, duplicates, complaints",
    projections=[projection],
    routers=[api.router, api_children.router],
    background=[screening_overdue],
)
