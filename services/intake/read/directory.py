"""Intake's copy of referral's service directory: which agencies exist and what each of
their units offers, so a screener can send a case to an agency that handles child
protection (``domain/routing.py``). Learnt from referral's events only."""

from __future__ import annotations

from sqlalchemy import Column, MetaData, String, Table, select
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from contracts.referral import AgencyRegistered, UnitDescribed
from services.intake.domain.routing import KnownAgency
from shared.projection import Projection
from shared.recorded import RecordedEvent

metadata = MetaData()
agencies = Table(
    "intake_agencies",
    metadata,
    Column("agency_id", String(200), primary_key=True),
    Column("kind", String(40), nullable=False),
)
units = Table(
    "intake_units",
    metadata,
    Column("unit_id", String(200), primary_key=True),
    Column("agency_id", String(200), nullable=False, index=True),
    Column("service_kinds", ARRAY(String(60)), nullable=False),
)
directory_projection = Projection(name="intake.directory", version=1, metadata=metadata)


@directory_projection.on("referral", "AgencyRegistered")
async def _agency(conn: AsyncConnection, e: RecordedEvent) -> None:
    ev = e.event
    assert isinstance(ev, AgencyRegistered)
    row = {"agency_id": ev.agency_id, "kind": ev.type}
    await conn.execute(
        insert(agencies).values(row).on_conflict_do_update(index_elements=["agency_id"], set_=row)
    )


@directory_projection.on("referral", "UnitDescribed")
async def _unit(conn: AsyncConnection, e: RecordedEvent) -> None:
    ev = e.event
    assert isinstance(ev, UnitDescribed)
    # A unit's entry is replaced whole, and it never changes agency (referral refuses it).
    row = {"unit_id": ev.unit_id, "agency_id": ev.agency_id, "service_kinds": ev.service_kinds}
    await conn.execute(
        insert(units).values(row).on_conflict_do_update(index_elements=["unit_id"], set_=row)
    )


async def known_agency(engine: AsyncEngine, agency_id: str) -> KnownAgency | None:
    """The directory's entry for an agency, or None if the directory has no such agency."""
    async with engine.connect() as conn:
        found = await conn.execute(
            select(agencies.c.agency_id).where(agencies.c.agency_id == agency_id)
        )
        if found.first() is None:
            return None
        rows = await conn.execute(
            select(units.c.unit_id, units.c.service_kinds).where(units.c.agency_id == agency_id)
        )
        return KnownAgency(agency_id, {r.unit_id: frozenset(r.service_kinds) for r in rows})
