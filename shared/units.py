"""The unit a token claims is checked against the directory: it must be a unit of the token's
own agency, or the request is refused. Referral owns the directory; the other services know
units only from referral's ``UnitDescribed`` events (their own copy, projected), and a service
that keeps no copy does not trust the claim at all (the principal's unit is dropped).
See docs/decisions/0013."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy import Column, MetaData, String, Table, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.projection import Projection
from shared.recorded import RecordedEvent

# (engine, unit id) -> the unit's agency, or None if the directory does not know the unit.
UnitLookup = Callable[[AsyncEngine, str], Awaitable[str | None]]


def table_lookup(unit_column: Column[str], agency_column: Column[str]) -> UnitLookup:
    """A lookup in a service's own copy of the directory."""

    async def lookup(engine: AsyncEngine, unit: str) -> str | None:
        async with engine.connect() as conn:
            found = (await conn.execute(select(agency_column).where(unit_column == unit))).scalar()
        return None if found is None else str(found)

    return lookup


def unit_directory(service: str) -> tuple[Projection, UnitLookup]:
    """For a service that keeps no directory of its own: which agency each unit belongs to,
    from referral's ``UnitDescribed`` (its model must be registered in the process)."""
    metadata = MetaData()
    table = Table(
        f"{service}_unit_directory",
        metadata,
        Column("unit_id", String(200), primary_key=True),
        Column("agency_id", String(200), nullable=False),
    )
    projection = Projection(name=f"{service}.unit_directory", version=1, metadata=metadata)

    @projection.on("referral", "UnitDescribed")
    async def _described(conn: AsyncConnection, e: RecordedEvent) -> None:
        data = e.envelope["data"]
        values = {"agency_id": str(data["agency_id"])}
        await conn.execute(
            insert(table)
            .values(unit_id=str(data["unit_id"]), **values)
            .on_conflict_do_update(index_elements=[table.c.unit_id], set_=values)
        )

    return projection, table_lookup(table.c.unit_id, table.c.agency_id)
