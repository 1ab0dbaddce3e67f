"""Wiring of the intake service."""

from __future__ import annotations

import contracts
from services.intake.app.case_corrections import child_corrector_every
from services.intake.app.matcher_learning import matcher_learning
from services.intake.app.policies import child_recorder_every, screening_overdue_every
from services.intake.config import IntakeConfig
from services.intake.read import directory_projection, ownership_projection, projection
from services.intake.read.directory import units
from services.intake.web import children, complaints, reports
from shared.service import ServiceSpec
from shared.units import table_lookup

contracts.load_all()  # the AsyncAPI document lists every event type

CONFIG = IntakeConfig()

spec = ServiceSpec(
    name="intake",
    context="intake",
    title="Relais intake: reports, children, screening, duplicates, complaints",
    projections=[projection, directory_projection, ownership_projection],
    routers=[reports.router, children.router, complaints.router],
    background=[
        screening_overdue_every(CONFIG.overdue_interval_s),
        child_recorder_every(CONFIG.recorder_interval_s, CONFIG.request_grace_s),
        child_corrector_every(CONFIG.corrector_interval_s),
        matcher_learning,
    ],
    # Which agency each unit belongs to, from intake's copy of the directory (learnt from
    # referral's events): a token's unit is checked against it.
    unit_agency=table_lookup(units.c.unit_id, units.c.agency_id),
)
