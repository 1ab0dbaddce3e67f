"""Which agency owns each case, learnt from casework's events, so a worker can refer only
their own agency's cases (casework's store is never read: only its events)."""

from __future__ import annotations

from sqlalchemy import Column, MetaData, String, Table, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.casework.events import CaseOpened
from shared.projection import Projection
from shared.recorded import RecordedEvent

metadata = MetaData()
case_owners = Table(
    "ref_case_owners",
    metadata,
    Column("case_id", String(64), primary_key=True),
    Column("child_id", String(64), nullable=False),
    Column("agency", String(200), nullable=False),
)

projection = Projection(name="referral.case_owners", version=1, metadata=metadata)


@projection.on("casework", "CaseOpened")
async def case_opened(conn: AsyncConnection, recorded: RecordedEvent) -> None:
    event = recorded.event
    assert isinstance(event, CaseOpened)
    await conn.execute(
        insert(case_owners)
        .values(case_id=event.case_id, child_id=event.child_id, agency=event.agency)
        .on_conflict_do_nothing()
    )


async def case_owner(engine: AsyncEngine, case_id: str) -> tuple[str, str] | None:
    """(agency, child_id) of a case casework has opened, or None if not (yet) known here."""
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                select(case_owners.c.agency, case_owners.c.child_id).where(
                    case_owners.c.case_id == case_id
                )
            )
        ).first()
    return (row.agency, row.child_id) if row else None
