"""Wiring of the reporting service."""

from __future__ import annotations

from shared.service import ServiceSpec

spec = ServiceSpec(
    name="reporting",
    context="audit",
    title="Relais reporting: indicators, statistics, exports, audit",
)
