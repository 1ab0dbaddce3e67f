"""Wiring of the reporting service."""

from __future__ import annotations

from services.reporting.audit_api import router as audit_router
from services.reporting.audit_index import access_projection, index_projection
from services.reporting.public_feed import run_public_feed
from shared.service import ServiceSpec

spec = ServiceSpec(
    name="reporting",
    context="audit",
    title="Relais reporting: indicators, statistics, exports, audit",
    projections=[index_projection(), access_projection],
    routers=[audit_router],
    background=[run_public_feed],
)
