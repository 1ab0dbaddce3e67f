"""Casework's read model of cases, fed by intake, referral and casework events (the staff
directory is in ``directory.py``): its tables, the one ``projection`` that fills them, and
the helpers its handlers share. The handlers are in the ``*_handlers`` modules beside this
one (the case's workflow, the follow-up, referrals, corrections of the child's details);
this package's ``__init__`` imports them all, so whoever imports the read model gets the
whole projection.

Events from different streams arrive in no particular order relative to each other (a
rebuild replays every stream at once), so every cross-stream handler is an upsert and joins
happen at read time."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Index,
    MetaData,
    String,
    Table,
    Text,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.projection import Projection
from shared.recorded import RecordedEvent

metadata = MetaData()

cases = Table(
    "cw_cases",
    metadata,
    Column("case_id", String(64), primary_key=True),
    Column("child_id", String(64), nullable=False, index=True),
    Column("sex", String(20), nullable=False),
    Column("age_band", String(10), nullable=False),
    Column("agency", String(200), nullable=False, index=True),
    Column("unit", String(200)),
    Column("commune", String(100), nullable=False),
    Column("concerns", JSONB, nullable=False),
    Column("urgency", String(20), nullable=False),
    Column("risk_level", String(20), nullable=False, index=True),
    Column("stage", String(40), nullable=False, index=True),
    Column("stage_due_at", DateTime(timezone=True), index=True),
    Column("stage_entered_seq", BigInteger, nullable=False),
    Column("overdue_flagged", Boolean, nullable=False, default=False),
    Column("status", String(30), nullable=False, index=True),
    Column("worker_id", String(200), index=True),
    Column("supervisor_id", String(200)),
    Column("competency_override", Boolean, nullable=False, default=False),
    Column("closure_reason", String(40)),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("opened_at", DateTime(timezone=True), nullable=False),
    Column("closed_at", DateTime(timezone=True)),
    Column("opened_directly", Boolean, nullable=False, default=False),
    # Since when the current agency has had the case: opening, or the accepted transfer.
    Column("owner_since", DateTime(timezone=True), nullable=False),
    Column("next_visit_due", String(10)),
    # The moment the scheduled visit counts as missed: the start of the day after it is due.
    Column("visit_due_at", DateTime(timezone=True), index=True),
    Column("visit_overdue_flagged", Boolean, nullable=False, default=False),
    Column("last_seq", BigInteger, nullable=False),
    # The site that owns the case (the site in its events' subjects): only its sweeps flag it.
    Column("site", String(32), nullable=False, index=True),
    # The site the owner released the case to, until that site takes it over (decision 0030):
    # what the receiving site's take-over inbox answers.
    Column("released_to", String(32), index=True),
    # Assessments, determinations, goals, reports and the pending closure request: read whole
    # with the case, never queried across cases.
    Column("detail", JSONB, nullable=False),
)

case_reports = Table(
    "cw_case_reports",
    metadata,
    Column("report_id", String(64), primary_key=True),
    Column("child_id", String(64), primary_key=True),
    Column("case_id", String(64), nullable=False, index=True),
)

# Accepted reports waiting for the process manager to open or extend a case.
pending = Table(
    "cw_pending_reports",
    metadata,
    Column("report_id", String(64), primary_key=True),
    Column("child_id", String(64), primary_key=True),
    Column("status", String(20), nullable=False),  # pending, done
    Column("case_id", String(64)),
    Column("data", JSONB, nullable=False),
    Column("seq", BigInteger, nullable=False),
    # The accepting event's trace: opening the case continues it.
    Column("traceparent", String(64)),
    # The ReportAccepted event and its chain: what the case's events name as their cause.
    Column("event_id", String(64)),
    Column("correlation_id", String(64)),
    # The site that owns the ReportAccepted (its subject's): only that site opens the case.
    Column("site", String(32), nullable=False),
    Index("ix_cw_pending_status", "status", "seq"),
)

actions = Table(
    "cw_plan_actions",
    metadata,
    Column("action_id", String(64), primary_key=True),
    Column("case_id", String(64), nullable=False, index=True),
    Column("goal_id", String(64), nullable=False),
    Column("text", Text, nullable=False),
    Column("responsible_agency", String(200), nullable=False),
    Column("responsible_unit", String(200)),
    Column("service_kind", String(60), nullable=False),
    Column("due_on", String(10), nullable=False),
    Column("referral_id", String(64), index=True),
    Column("seq", BigInteger, nullable=False),
)

referrals = Table(
    "cw_referrals",
    metadata,
    Column("referral_id", String(64), primary_key=True),
    Column("case_id", String(64), nullable=False, index=True),
    Column("status", String(20), nullable=False),
    Column("service_kind", String(60)),
    Column("to_agency", String(200)),
    Column("to_unit", String(200)),
    Column("refusal_code", String(100)),
    Column("refusal_en", Text),
    Column("refusal_fr", Text),
    # A declined referral: the receiving unit's reason and the unit it suggested instead.
    Column("decline_reason", Text),
    Column("suggested_unit", String(200)),
    # The plan action a referral made from the portal carries out (ReferralMade.action_id).
    Column("action_id", String(64), index=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# Read only through GET /cases/{id}/notes, which filters by sensitivity: never joined into
# a list or the case detail.
notes = Table(
    "cw_notes",
    metadata,
    Column("note_id", String(64), primary_key=True),
    Column("case_id", String(64), nullable=False, index=True),
    Column("sensitivity", String(20), nullable=False),
    Column("text", Text, nullable=False),
    Column("author", String(200), nullable=False),
    Column("author_agency", String(200), nullable=False),
    Column("written_at", DateTime(timezone=True), nullable=False),
    Column("seq", BigInteger, nullable=False),
)

transfers = Table(
    "cw_transfers",
    metadata,
    Column("transfer_id", String(64), primary_key=True),
    Column("case_id", String(64), nullable=False, index=True),
    Column("from_agency", String(200), nullable=False),
    Column("to_agency", String(200), nullable=False),
    Column("to_unit", String(200)),
    Column("status", String(20), nullable=False),  # pending, accepted, declined, withdrawn
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("answered_at", DateTime(timezone=True)),
    Index("ix_cw_transfers_to", "to_agency", "status"),
    Index("ix_cw_transfers_from", "from_agency", "status"),
)

# v4: corrections of the child's details sent to intake, with intake's answers, in a table
# of their own (cw_child_corrections) rather than the case's detail.
# v5: the trace of each accepted report waiting for its case.
# v6: declined referrals' reasons and suggested units; the children's display names; the
#     accepted report's event and chain on pending reports (what the case's events name).
# v7: the owning site of each case and of each accepted report waiting for its case (decision
#     0029: a reaction fires only at the site that owns its cause).
# v8: the site a case was released to, until it is taken over (decision 0030).
# v9: the plan action a referral made from the portal carries out (cw_referrals.action_id).
projection = Projection(name="casework.cases", version=9, metadata=metadata)


def as_datetime(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def touch(conn: AsyncConnection, e: RecordedEvent, **values: Any) -> None:
    """Update the case the event belongs to, moving its version (``last_seq``, which clients
    send back in ``If-Match``) on."""
    await conn.execute(
        update(cases).where(cases.c.case_id == e.aggregate.id).values(last_seq=e.seq, **values)
    )


async def case_detail(conn: AsyncConnection, case_id: str) -> dict[str, Any]:
    row = (await conn.execute(select(cases.c.detail).where(cases.c.case_id == case_id))).scalar()
    return dict(row or {})


async def append_detail(
    conn: AsyncConnection, e: RecordedEvent, key: str, item: dict[str, Any], **values: Any
) -> None:
    detail = await case_detail(conn, e.aggregate.id)
    detail[key] = [*detail.get(key, []), {**item, "at": e.time, "by": e.actor.user}]
    await touch(conn, e, detail=detail, **values)
