"""Wiring of the referral service."""

from __future__ import annotations

from shared.service import ServiceSpec

spec = ServiceSpec(
    name="referral",
    context="referral",
    title="Relais referral: service directory and referrals between agencies",
)
