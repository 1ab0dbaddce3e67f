"""Wiring of the reporting service."""

from __future__ import annotations

from services.reporting.public_feed import run_public_feed
from shared.service import ServiceSpec

spec = ServiceSpec(
    name="reporting",
    context="audit",
    title="Relais reporting: indicators, statistics, exports, audit",
    background=[run_public_feed],
)
