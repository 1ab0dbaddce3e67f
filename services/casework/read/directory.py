"""Casework's copy of referral's staff directory: who works where, in which sector, and how
each person was last assessed on each competency (assignment reads it to decide whether a
worker may take a case); and which agencies and units exist (a transfer must name one)."""

from __future__ import annotations

from sqlalchemy import Column, MetaData, String, Table, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.referral import (
    AgencyRegistered,
    CompetencyAssessed,
    StaffMemberRegistered,
    UnitDescribed,
)
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
agencies = Table(
    "cw_agencies",
    staff_metadata,
    Column("agency_id", String(200), primary_key=True),
)
units = Table(
    "cw_units",
    staff_metadata,
    Column("unit_id", String(200), primary_key=True),
    Column("agency_id", String(200), nullable=False, index=True),
)
staff_projection = Projection(name="casework.staff", version=2, metadata=staff_metadata)


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


@staff_projection.on("referral", "AgencyRegistered")
async def _agency(conn: AsyncConnection, e: RecordedEvent) -> None:
    a = e.event
    assert isinstance(a, AgencyRegistered)
    await conn.execute(insert(agencies).values(agency_id=a.agency_id).on_conflict_do_nothing())


@staff_projection.on("referral", "UnitDescribed")
async def _unit(conn: AsyncConnection, e: RecordedEvent) -> None:
    u = e.event
    assert isinstance(u, UnitDescribed)
    values = {"agency_id": u.agency_id}
    await conn.execute(
        insert(units)
        .values(unit_id=u.unit_id, **values)
        .on_conflict_do_update(index_elements=[units.c.unit_id], set_=values)
    )


async def units_of(conn: AsyncConnection, agency_id: str) -> frozenset[str] | None:
    """The agency's units, or None if the directory does not know the agency."""
    known = (
        await conn.execute(select(agencies.c.agency_id).where(agencies.c.agency_id == agency_id))
    ).scalar()
    if known is None:
        return None
    rows = await conn.execute(select(units.c.unit_id).where(units.c.agency_id == agency_id))
    return frozenset(rows.scalars())
