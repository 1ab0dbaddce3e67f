"""The latest ``audit verify`` run, in reporting's own database, so that its result survives
a restart and every instance answers the same one.

Like the webhook tables, this table belongs to no projection (a rebuild drops a projection's
tables; a verification's result is not derived from events) and lives in ``public`` whatever
the read models' generation (decision 0015)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, DateTime, MetaData, String, Table, func, select
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db import create_tables

metadata = MetaData(schema="public")

# One row: the latest finished run (its answer as GET /audit/verifications/latest gives it).
verification = Table(
    "audit_verification",
    metadata,
    Column("slot", String(16), primary_key=True),
    Column("verification_id", String(64), nullable=False),
    Column("run", JSONB, nullable=False),
    Column("stored_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
LATEST = "latest"


async def prepare_table(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await create_tables(conn, metadata)


async def store_latest(engine: AsyncEngine, run: dict[str, Any]) -> None:
    row = {"slot": LATEST, "verification_id": str(run["verification_id"]), "run": run}
    async with engine.begin() as conn:
        await conn.execute(
            insert(verification)
            .values(row)
            .on_conflict_do_update(
                index_elements=[verification.c.slot],
                set_={
                    "verification_id": row["verification_id"],
                    "run": run,
                    "stored_at": func.now(),
                },
            )
        )


async def load_latest(engine: AsyncEngine) -> dict[str, Any] | None:
    async with engine.connect() as conn:
        found = (
            await conn.execute(select(verification.c.run).where(verification.c.slot == LATEST))
        ).scalar_one_or_none()
    return dict(found) if found is not None else None
