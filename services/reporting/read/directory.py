"""The directory as reporting knows it: names for labels, the codes a directory dimension can
be filtered on, and services offered against expected per hub."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import select, union
from sqlalchemy.ext.asyncio import AsyncConnection

from services.reporting.read import facts as f
from services.reporting.read import publications
from services.reporting.read.record_fields import place
from shared.i18n import Message


async def directory_names(conn: AsyncConnection) -> dict[str, Message]:
    """Names of agencies, units and report definitions, for labels (none is child data)."""
    names = {
        row.agency_id: Message(en=row.name, fr=row.name)
        for row in (await conn.execute(select(f.agencies))).all()
    }
    for row in (await conn.execute(select(f.units))).all():
        names[row.unit_id] = Message(en=row.name, fr=row.name)
    p = publications.definitions
    for row in (await conn.execute(select(p.c.definition_id, p.c.title_en, p.c.title_fr))).all():
        names[row.definition_id] = Message(en=row.title_en, fr=row.title_fr)
    return names


async def known_codes(conn: AsyncConnection, dim: str) -> set[str]:
    """The codes a directory dimension can be filtered on: the directory's, and any the facts
    hold (an agency may act before it is described in the directory)."""
    if dim in ("unit", "to_unit", "hub"):
        columns = [f.units.c.unit_id, f.referrals.c.to_unit, f.services.c.unit, f.reports.c.unit]
    else:
        columns = [
            f.agencies.c.agency_id,
            f.units.c.agency_id,
            f.reports.c.agency,
            f.cases.c.agency,
            f.referrals.c.to_agency,
            f.referrals.c.from_agency,
            f.services.c.agency,
            f.staff.c.agency,
            f.trainings.c.agency,
        ]
    statement = union(*(select(column.label("code")).distinct() for column in columns))
    return {row.code for row in (await conn.execute(statement)).all() if row.code}


async def availability(conn: AsyncConnection) -> list[dict[str, Any]]:
    """Per hub, and per unit that belongs to no hub: expected service kinds and how many of
    them the hub or its units offer."""
    unit_rows = {row.unit_id: row for row in (await conn.execute(select(f.units))).all()}
    members: dict[str, list[Any]] = defaultdict(list)
    for row in unit_rows.values():
        if row.hub_id:
            members[row.hub_id].append(row)
    items = []
    for unit_id, row in sorted(unit_rows.items()):
        if row.hub_id and row.hub_id in unit_rows:
            continue  # counted with its hub
        group = [row, *members.get(unit_id, [])]
        expected = sorted(set(row.expected_services))
        if not expected:
            continue
        offered = sorted({k for u in group for k in u.service_kinds} & set(expected))
        items.append(
            {
                "hub": unit_id,
                "name": row.name,
                "agency": row.agency_id,
                **place(row.commune),
                "units": sorted(u.unit_id for u in group),
                "expected": len(expected),
                "offered": len(offered),
                "offered_kinds": offered,
                "missing_kinds": [k for k in expected if k not in offered],
            }
        )
    return items
