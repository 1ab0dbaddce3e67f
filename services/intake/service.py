"""Wiring of the intake service."""

from __future__ import annotations

import contracts
from services.intake.app.case_corrections import child_corrector
from services.intake.app.matcher_learning import matcher_learning
from services.intake.app.processes import child_recorder, screening_overdue
from services.intake.config import IntakeConfig
from services.intake.read import projection
from services.intake.web import children, complaints, reports
from shared.service import ServiceSpec
from shared.units import unit_directory

contracts.load_all()  # the AsyncAPI document lists every event type

# Which agency each unit belongs to, learnt from referral's events: a token's unit is checked.
units_projection, unit_agency = unit_directory("intake")


def build_spec(config: IntakeConfig | None = None) -> ServiceSpec:
    """The service; tests pass a config with their own intervals."""
    config = config or IntakeConfig()
    return ServiceSpec(
        name="intake",
        context="intake",
        title="Relais intake: reports, children, screening, duplicates, complaints",
        projections=[projection, units_projection],
        routers=[reports.router, children.router, complaints.router],
        processes=[
            screening_overdue(config.overdue_interval_s),
            child_recorder(config.recorder_interval_s, config.request_grace_s),
            child_corrector(config.corrector_interval_s),
        ],
        background=[matcher_learning],
        unit_agency=unit_agency,
    )


spec = build_spec()
