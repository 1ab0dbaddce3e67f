"""Wiring of the referral service."""

from __future__ import annotations

import contracts
from services.referral.app.capacity import CapacitySweep
from services.referral.app.deadlines import DeadlinePolicy
from services.referral.app.requests import RequestPolicy
from services.referral.config import ReferralConfig
from services.referral.read import cases
from services.referral.read.projections import projection, units
from services.referral.web import availability, directory, referrals, search, staff
from shared.service import ServiceSpec
from shared.units import table_lookup

contracts.load_all()  # the AsyncAPI document lists every event type


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
            directory.router,
            search.router,
            availability.router,
            staff.router,
            referrals.router,
        ],
        background=[
            DeadlinePolicy(config).loop,
            RequestPolicy(config).loop,
            CapacitySweep(config).loop,
        ],
        unit_agency=table_lookup(units.c.unit_id, units.c.agency_id),
    )


spec = build_spec()
