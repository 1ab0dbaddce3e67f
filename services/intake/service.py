"""Wiring of the intake service."""

from __future__ import annotations

import contracts
from services.intake.app.case_corrections import child_corrector_every
from services.intake.app.matcher_learning import matcher_learning
from services.intake.app.policies import child_recorder_every, screening_overdue_every
from services.intake.config import IntakeConfig
from services.intake.read import projection
from services.intake.web import children, complaints, reports
from shared.service import ServiceSpec
from shared.units import unit_directory

contracts.load_all()  # the AsyncAPI document lists every event type

CONFIG = IntakeConfig()
# Which agency each unit belongs to, learnt from referral's events: a token's unit is checked.
units_projection, unit_agency = unit_directory("intake")

spec = ServiceSpec(
    name="intake",
    context="intake",
    title="Relais intake: reports, children, screening, duplicates, complaints",
    projections=[projection, units_projection],
    routers=[reports.router, children.router, complaints.router],
    background=[
        screening_overdue_every(CONFIG.overdue_interval_s),
        child_recorder_every(CONFIG.recorder_interval_s, CONFIG.request_grace_s),
        child_corrector_every(CONFIG.corrector_interval_s),
        matcher_learning,
    ],
    unit_agency=unit_agency,
)
