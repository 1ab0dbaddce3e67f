"""Wiring of the casework service."""

from __future__ import annotations

import contracts
from services.casework.app.processes import case_opener, missed_visits, stage_overdue
from services.casework.app.site_transfer import site_taker
from services.casework.config import CaseworkConfig
from services.casework.read import projection
from services.casework.read.directory import staff_projection, units
from services.casework.web.case_views import router as read_router
from services.casework.web.cases import router as command_router
from services.casework.web.child_corrections import router as child_corrections_router
from services.casework.web.followup import router as followup_router
from services.casework.web.followup import sites_router
from services.casework.web.supervision import router as supervision_router
from shared.service import ServiceSpec
from shared.units import table_lookup

contracts.load_all()  # the AsyncAPI document lists every event type


def build_spec(config: CaseworkConfig | None = None) -> ServiceSpec:
    """The service; tests pass a config with their own intervals."""
    config = config or CaseworkConfig()
    return ServiceSpec(
        name="casework",
        context="casework",
        title="Relais casework: cases from opening to closure",
        description="Cases opened from accepted reports or directly by a worker who found a "
        "child, assignment by competency, assessments, best interests, the case plan and its "
        "referral requests, services, follow-up visits, notes by sensitivity, transfers between "
        "agencies, closure and reopening, corrections of the child's details sent to intake; "
        "supervisor views.",
        projections=[projection, staff_projection],
        routers=[
            read_router,
            supervision_router,
            command_router,
            followup_router,
            child_corrections_router,
            sites_router,
        ],
        # Started once the projectors run; each is safe on several instances at once.
        processes=[
            case_opener(config.policy_interval_s),
            stage_overdue(config.standards, config.policy_interval_s),
            missed_visits(config.standards, config.policy_interval_s),
            site_taker(config.policy_interval_s),
        ],
        unit_agency=table_lookup(units.c.unit_id, units.c.agency_id),
    )


spec = build_spec()
