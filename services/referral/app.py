"""Wiring of the referral service."""

from __future__ import annotations

from services.referral import (
    api,
    availability_api,
    cases,
    directory_api,
    search_api,
    staff_api,
)
from services.referral.capacity import CapacitySweep
from services.referral.config import ReferralConfig
from services.referral.policies import DeadlinePolicy
from services.referral.projections import projection, units
from services.referral.requests import RequestPolicy
from shared.service import ServiceSpec
from shared.units import table_lookup


def build_spec(config: ReferralConfig | None = None) -> ServiceSpec:
    """The service; without a config, its policies read the runtime's settings (tests pass
    one with their own clock)."""
    return ServiceSpec(
        name="referral",
        context="referral",
        title="Relais referral: service directory and referrals between agencies",
        projections=[projection, cases.projection],
        # FastAPI tries routes in the order they are included: this keeps the order the
        # directory routes had in one module, so matching and the OpenAPI document stay put.
        routers=[
            directory_api.router,
            search_api.router,
            availability_api.router,
            staff_api.router,
            api.router,
        ],
        background=[
            DeadlinePolicy(config).loop,
            RequestPolicy(config).loop,
            CapacitySweep(config).loop,
        ],
        unit_agency=table_lookup(units.c.unit_id, units.c.agency_id),
    )


spec = build_spec()
