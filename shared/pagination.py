"""One page of a list: how many rows match, and the rows of the page, in a stable order."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, Select, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine


async def fetch_page(
    db: AsyncEngine | AsyncConnection,
    query: Select[Any],
    *order_by: Any,
    offset: int,
    limit: int,
) -> tuple[Sequence[Row[Any]], int]:
    """(rows of the page, total matching). ``order_by`` should end with a unique column so
    that pages neither repeat nor skip rows."""
    if isinstance(db, AsyncEngine):
        async with db.connect() as conn:
            return await fetch_page(conn, query, *order_by, offset=offset, limit=limit)
    total = (await db.execute(select(func.count()).select_from(query.subquery()))).scalar()
    rows = (await db.execute(query.order_by(*order_by).offset(offset).limit(limit))).all()
    return rows, int(total or 0)
