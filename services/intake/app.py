"""Wiring of the intake service."""

from __future__ import annotations

from services.intake import api, api_children, api_complaints
from services.intake.case_corrections import child_corrector
from services.intake.matcher_weights import matcher_learning
from services.intake.policies import child_recorder, screening_overdue
from services.intake.projections import projection
from shared.service import ServiceSpec

spec = ServiceSpec(
    name="intake",
    context="intake",
    title="Relais intake: reports, children, screening, duplicates, complaints",
    projections=[projection],
    routers=[api.router, api_children.router, api_complaints.router],
    background=[screening_overdue, child_recorder, child_corrector, matcher_learning],
)
