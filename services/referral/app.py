"""Wiring of the referral service."""

from __future__ import annotations

from services.referral import api, cases, directory_api, staff_api
from services.referral.policies import DeadlinePolicy, ReferralConfig
from services.referral.projections import projection
from shared.service import ServiceSpec


def build_spec(config: ReferralConfig | None = None) -> ServiceSpec:
    """The service; tests pass a config with their own clock and a short escalation delay."""
    policy = DeadlinePolicy(config) if config is not None else DeadlinePolicy()
    return ServiceSpec(
        name="referral",
        context="referral",
        title="Relais referral: service directory and referrals between agencies",
        projections=[projection, cases.projection],
        routers=[directory_api.router, staff_api.router, api.router],
        background=[policy.loop],
    )


spec = build_spec()
