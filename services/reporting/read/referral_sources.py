"""The loaders of referrals: one per milestone of a referral (made, accepted, declined,
completed, overdue), read from the facts tables for the query's range only."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from services.reporting.domain.periods import local_day
from services.reporting.domain.query import Query, Record, Value
from services.reporting.read import facts as f
from services.reporting.read.record_fields import Loader, bounds, hours

# -- referrals --------------------------------------------------------------------------------


def _referral_dims(row: Any) -> dict[str, Value]:
    return {
        "service_kind": row.service_kind,
        "to_unit": row.to_unit,
        "to_agency": row.to_agency,
        "from_agency": row.from_agency,
        "urgency": row.urgency,
    }


def referrals_at(column: str) -> Loader:
    async def load(conn: AsyncConnection, query: Query) -> list[Record]:
        start, end = bounds(query)
        r = f.referrals
        rows = (await conn.execute(select(r).where(r.c[column] >= start, r.c[column] < end))).all()
        return [
            Record(
                unit=row.referral_id,
                day=local_day(getattr(row, column)),
                dims=_referral_dims(row),
                value=hours(row.made_at, row.accepted_at) if row.accepted_at else 0.0,
            )
            for row in rows
        ]

    return load
