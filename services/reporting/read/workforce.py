"""Loaders of the workforce indicators: training sessions, staff trained, staff assessed per
competency and level (referral's directory events; no child data at all)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from services.reporting.domain.dimensions import UNKNOWN
from services.reporting.domain.query import Query, Record
from services.reporting.read import facts as f


async def training_sessions(conn: AsyncConnection, query: Query) -> list[Record]:
    t = f.trainings
    rows = (await conn.execute(select(t).where(t.c.held_on.between(query.start, query.end)))).all()
    return [
        Record(
            unit=row.session_id,
            day=row.held_on,
            dims={"agency": row.agency, "sector": row.sector or UNKNOWN},
        )
        for row in rows
    ]


async def staff_trained(conn: AsyncConnection, query: Query) -> list[Record]:
    t, s = f.trainings, f.staff
    rows = (await conn.execute(select(t).where(t.c.held_on.between(query.start, query.end)))).all()
    people = {row.staff_id: row for row in (await conn.execute(select(s))).all()}
    records = []
    for row in rows:
        for staff_id in row.participants:
            person = people.get(staff_id)
            records.append(
                Record(
                    unit=staff_id,
                    day=row.held_on,
                    dims={
                        "agency": person.agency if person else row.agency,
                        "sector": (person.sector if person else row.sector) or UNKNOWN,
                    },
                )
            )
    return records


async def staff_assessed(conn: AsyncConnection, query: Query) -> list[Record]:
    a, s = f.assessments, f.staff
    rows = (
        await conn.execute(
            select(a, s.c.agency)
            .outerjoin(s, s.c.staff_id == a.c.staff_id)
            .where(a.c.assessed_on.between(query.start, query.end))
        )
    ).all()
    return [
        Record(
            unit=row.staff_id,
            day=row.assessed_on,
            dims={
                "competency": row.competency,
                "level": row.level,
                "sector": row.competency.split(".")[0],
                "agency": row.agency or UNKNOWN,
            },
        )
        for row in rows
    ]
