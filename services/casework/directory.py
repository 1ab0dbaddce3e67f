"""Casework's copy of referral's staff directory: who works where, in which sector, and how
each person was last assessed on each competency. Assignment reads it to decide whether a
worker may take a case."""

from __future__ import annotations

from sqlalchemy import Column, MetaData, String, Table
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.referral.events import CompetencyAssessed, StaffMemberRegistered
from shared.projection import Projection
from shared.recorded import RecordedEvent

staff_metadata = MetaData()
staff = Table(
    "cw_staff",
    staff_metadata,
    Column("staff_id", String(200), primary_key=True),
    Column("agency", String(200), nullable=False, index=True),
    Column("unit", String(200), nullable=False),
    Column("sector", String(60), nullable=False),
    Column("role", String(100), nullable=False),
)
competencies = Table(
    "cw_competencies",
    staff_metadata,
    Column("staff_id", String(200), primary_key=True),
    Column("competency", String(120), primary_key=True),
    Column("level", String(40), nullable=False),
    Column("assessed_on", String(10), nullable=False),
)
staff_projection = Projection(name="casework.staff", version=1, metadata=staff_metadata)


@staff_projection.on("referral", "StaffMemberRegistered")
async def _staff(conn: AsyncConnection, e: RecordedEvent) -> None:
    s = e.event
    assert isinstance(s, StaffMemberRegistered)
    # The display name stays with referral's directory: casework needs only who and where.
    values = {"agency": s.agency, "unit": s.unit, "sector": s.sector, "role": s.role}
    await conn.execute(
        insert(staff)
        .values(staff_id=s.staff_id, **values)
        .on_conflict_do_update(index_elements=[staff.c.staff_id], set_=values)
    )


@staff_projection.on("referral", "CompetencyAssessed")
async def _competency(conn: AsyncConnection, e: RecordedEvent) -> None:
    c = e.event
    assert isinstance(c, CompetencyAssessed)
    # The latest assessment in the log is the one that counts, up or down.
    values = {"level": c.level, "assessed_on": c.assessed_on}
    await conn.execute(
        insert(competencies)
        .values(staff_id=c.staff_id, competency=c.competency, **values)
        .on_conflict_do_update(
            index_elements=[competencies.c.staff_id, competencies.c.competency], set_=values
        )
    )
