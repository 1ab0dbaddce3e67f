"""Wiring of the casework service."""

from __future__ import annotations

from shared.service import ServiceSpec

spec = ServiceSpec(
    name="casework",
    context="casework",
    title="Relais casework: cases from opening to closure",
)
