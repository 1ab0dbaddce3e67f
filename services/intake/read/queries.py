"""Queries of intake's read model that commands need before they decide."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.intake import ReportedChild
from services.intake.read.tables import children, links


async def canonical_ids(engine: AsyncEngine, child_ids: list[str]) -> dict[str, str]:
    """For each child linked as a confirmed duplicate of an earlier record, that earliest
    record: casework then adds the report to the case it already has for the child."""
    other = children.alias("other")
    own = children.alias("own")
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(links.c.child_id, links.c.other_id)
            .join(other, other.c.child_id == links.c.other_id)
            .join(own, own.c.child_id == links.c.child_id)
            .where(links.c.child_id.in_(child_ids), other.c.received_at < own.c.received_at)
            .order_by(other.c.received_at, links.c.other_id)
        )
        found: dict[str, str] = {}
        for row in rows:
            found.setdefault(row.child_id, row.other_id)
    return found


async def current_details(engine: AsyncEngine, child_ids: list[str]) -> dict[str, ReportedChild]:
    """The child records as they now read, corrections applied."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(children.c.child_id, children.c.details).where(
                children.c.child_id.in_(child_ids)
            )
        )
        return {r.child_id: ReportedChild.model_validate(r.details) for r in rows}
