"""The facts' tables, and the one projection that fills them from the handler modules of
this package."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
)
from sqlalchemy.dialects.postgresql import JSONB, insert

from shared.projection import Projection

FACTS_NAME = "reporting.statistics"

metadata = MetaData()

reports = Table(
    "stat_report",
    metadata,
    Column("report_id", String, primary_key=True),
    Column("agency", String, nullable=False),
    Column("unit", String),
    Column("channel", String, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False, index=True),
    Column("commune", String, nullable=False),
    Column("urgency", String, nullable=False),
    Column("concerns", JSONB, nullable=False),
    Column("screened_at", DateTime(timezone=True)),
    Column("screened_urgency", String),
    Column("screened_in_time", Boolean),
    Column("overdue", Boolean, nullable=False),
)

report_children = Table(
    "stat_report_child",
    metadata,
    Column("report_id", String, primary_key=True),
    Column("child_id", String, primary_key=True, index=True),
    Column("sex", String, nullable=False),
    Column("age_band", String, nullable=False),
    # What was known of the age at receipt, by priority (birth date, stated age, range):
    # enough to recompute the band when intake corrects one of them.
    Column("age_from_birth", Integer),
    Column("age_years", Integer),
    Column("age_min", Integer),
    Column("age_max", Integer),
)

child_links = Table(
    "stat_child_link",
    metadata,
    Column("child_id", String, primary_key=True),
    Column("other_id", String, primary_key=True),
)

cases = Table(
    "stat_case",
    metadata,
    Column("case_id", String, primary_key=True),
    Column("child_id", String, nullable=False, index=True),
    Column("sex", String, nullable=False),
    Column("age_band", String, nullable=False),
    Column("agency", String, nullable=False),
    Column("unit", String),
    Column("commune", String, nullable=False),
    Column("concerns", JSONB, nullable=False),
    Column("urgency", String, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("opened_at", DateTime(timezone=True), nullable=False, index=True),
    Column("opened_directly", Boolean, nullable=False),
    Column("first_assessment_at", DateTime(timezone=True)),
    Column("plan_at", DateTime(timezone=True)),
)

# A case's changes over time, so any indicator can ask what the case was at a given instant.
case_changes = Table(
    "stat_case_change",
    metadata,
    Column("case_id", String, primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("stage", String),
    Column("risk", String),
    Column("worker", String),
    Column("agency", String),
    Column("reason", String),
    Column("qualified", Boolean),
)

services = Table(
    "stat_service",
    metadata,
    # "referral:<id>" when the service carries out a referral: the case's ServiceDelivered and
    # the referral's ReferralCompleted are the same service, counted once.
    Column("service_key", String, primary_key=True),
    Column("child_id", String, nullable=False, index=True),
    Column("case_id", String, nullable=False),
    Column("service_kind", String, nullable=False),
    Column("agency", String, nullable=False),
    Column("unit", String),
    Column("delivered_on", Date),
    Column("delivered_at", DateTime(timezone=True)),
)

referrals = Table(
    "stat_referral",
    metadata,
    Column("referral_id", String, primary_key=True),
    Column("case_id", String, nullable=False),
    Column("child_id", String, nullable=False),
    Column("from_agency", String, nullable=False),
    Column("to_agency", String, nullable=False),
    Column("to_unit", String, nullable=False),
    Column("service_kind", String, nullable=False),
    Column("urgency", String, nullable=False),
    Column("made_at", DateTime(timezone=True), nullable=False),
    Column("accepted_at", DateTime(timezone=True)),
    Column("declined_at", DateTime(timezone=True)),
    Column("completed_at", DateTime(timezone=True)),
    Column("withdrawn_at", DateTime(timezone=True)),
    Column("overdue_at", DateTime(timezone=True)),
)

agencies = Table(
    "stat_agency",
    metadata,
    Column("agency_id", String, primary_key=True),
    Column("name", String, nullable=False),
    Column("type", String, nullable=False),
    Column("commune", String),
)

units = Table(
    "stat_unit",
    metadata,
    Column("unit_id", String, primary_key=True),
    Column("agency_id", String, nullable=False),
    Column("name", String, nullable=False),
    Column("commune", String, nullable=False),
    Column("service_kinds", JSONB, nullable=False),
    Column("expected_services", JSONB, nullable=False),
    Column("hub_id", String),
)

staff = Table(
    "stat_staff",
    metadata,
    Column("staff_id", String, primary_key=True),
    Column("agency", String, nullable=False),
    Column("unit", String, nullable=False),
    Column("sector", String, nullable=False),
)

assessments = Table(
    "stat_assessment",
    metadata,
    Column("staff_id", String, primary_key=True),
    Column("competency", String, primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    Column("level", String, nullable=False),
    Column("assessed_on", Date, nullable=False),
)

trainings = Table(
    "stat_training",
    metadata,
    Column("session_id", String, primary_key=True),
    Column("agency", String, nullable=False),
    Column("held_on", Date, nullable=False),
    Column("sector", String),
    Column("participants", JSONB, nullable=False),
)

projection = Projection(name=FACTS_NAME, version=1, metadata=metadata)


def upsert(table: Table, row: dict[str, Any], keys: list[str]) -> Any:
    """Insert ``row``, or overwrite its other columns where ``keys`` already name a row: an
    event applied twice, or after a rebuild, leaves the same row."""
    stmt = insert(table).values(**row)
    changes = {k: stmt.excluded[k] for k in row if k not in keys}
    if not changes:
        return stmt.on_conflict_do_nothing()
    return stmt.on_conflict_do_update(index_elements=keys, set_=changes)
