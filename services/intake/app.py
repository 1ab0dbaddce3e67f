"""Wiring of the intake service."""

from __future__ import annotations

from shared.service import ServiceSpec

spec = ServiceSpec(
    name="intake",
    context="intake",
    title="Relais intake: reports, children, screening, duplicates, complaints",
)
