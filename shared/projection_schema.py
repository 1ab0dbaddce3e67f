"""A projection's tables: created at start-up, rebuilt from the log when its schema version
changes, and reset for a rebuild only when no instance is applying it."""

from __future__ import annotations

import logging

from sqlalchemy import delete, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.db import (
    backbone_metadata,
    checkpoints,
    create_tables,
    dead_letters,
    schema_versions,
)

__all__ = ["ProjectionBusy", "prepare", "reset"]
from shared.projection import Projection, ProjectionBusy, lock_key

log = logging.getLogger(__name__)


async def prepare(engine: AsyncEngine, projection: Projection) -> None:
    """Create the projection's tables; if its schema version changed, drop and rebuild them
    from the log (projections are disposable)."""
    async with engine.begin() as conn:
        await create_tables(conn, backbone_metadata)
        stored = (
            await conn.execute(
                select(schema_versions.c.version).where(
                    schema_versions.c.projector == projection.name
                )
            )
        ).scalar()
        if stored is not None and stored != projection.version:
            log.warning(
                "projection %s schema v%s -> v%s: rebuilding from the log",
                projection.name,
                stored,
                projection.version,
            )
            await _reset(conn, projection)
        await conn.run_sync(projection.metadata.create_all)
        if stored != projection.version:
            await conn.execute(
                delete(schema_versions).where(schema_versions.c.projector == projection.name)
            )
            await conn.execute(
                insert(schema_versions).values(
                    projector=projection.name, version=projection.version
                )
            )


async def reset(engine: AsyncEngine, projection: Projection) -> None:
    """Drop the projection's rows, checkpoints and dead letters; recreate empty tables.
    Refused while any instance is applying it: its in-memory position would outlive the
    wiped checkpoint and skip the start of the log."""
    async with engine.begin() as conn:
        for context in projection.contexts:
            key = lock_key("projector", projection.name, context.upper())
            got = (
                await conn.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": key})
            ).scalar()
            if not got:
                raise ProjectionBusy(f"{projection.name} is being applied; stop its service")
        await create_tables(conn, backbone_metadata)
        await _reset(conn, projection)
        await conn.run_sync(projection.metadata.create_all)


async def _reset(conn: AsyncConnection, projection: Projection) -> None:
    await conn.run_sync(projection.metadata.drop_all)
    await conn.execute(delete(checkpoints).where(checkpoints.c.projector == projection.name))
    await conn.execute(delete(dead_letters).where(dead_letters.c.projector == projection.name))
