"""Wiring of the reporting service."""

from __future__ import annotations

from services.reporting.audit_api import router as audit_router
from services.reporting.audit_index import access_projection, index_projection
from services.reporting.feed.manager import run_public_feed
from services.reporting.statistics import api as statistics_api
from services.reporting.statistics import facts, publications
from services.reporting.statistics.reports import DEFAULT_POLICY
from services.reporting.statistics.reports_api import router as statistical_reports_router
from services.reporting.statistics.retirement_api import router as retirement_router
from shared.service import ServiceSpec

spec = ServiceSpec(
    name="reporting",
    context="audit",
    title="Relais reporting: indicators, statistics, exports, audit",
    projections=[index_projection(), access_projection, facts.projection, publications.projection],
    # In this order: routes match in registration order, and /statistics/{indicator} would
    # take "reports" for an indicator's code; the catalogue first keeps /statistics first in
    # the OpenAPI document.
    routers=[
        audit_router,
        statistics_api.catalogue_router,
        statistical_reports_router,
        retirement_router,
        statistics_api.indicator_router,
    ],
    background=[run_public_feed, DEFAULT_POLICY.loop],
)
