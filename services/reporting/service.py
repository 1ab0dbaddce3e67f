"""Wiring of the reporting service."""

from __future__ import annotations

import contracts
from services.reporting.app.public_feed import FEED_CONSUMERS, run_public_feed
from services.reporting.app.reports import ReportPolicy
from services.reporting.config import ReportingConfig
from services.reporting.read import facts, publications
from services.reporting.read.audit_index import access_projection, index_projection
from services.reporting.web import statistics as statistics_api
from services.reporting.web.audit import router as audit_router
from services.reporting.web.reports import router as statistical_reports_router
from services.reporting.web.retirement import router as retirement_router
from shared.service import ServiceSpec

contracts.load_all()  # the AsyncAPI document lists every event type
CONFIG = ReportingConfig()

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
    background=[run_public_feed, ReportPolicy(interval_s=CONFIG.reports_interval_s).loop],
    extra_consumers=FEED_CONSUMERS,
)
