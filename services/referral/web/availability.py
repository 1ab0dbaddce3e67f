"""Services offered against those expected, for a hub and its member units or for one unit.

The rule itself is in ``availability``; this module reads the units and shapes the answer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy import Row, or_

from services.referral.domain.availability import Member, availability
from services.referral.read.projections import units
from services.referral.read.queries import available, unit_row, units_with_capacity
from services.referral.web.common import not_found, runtime_of
from services.referral.web.permissions import permissions
from shared.auth import Principal

router = APIRouter(tags=["directory"])


def _member(row: Row[Any]) -> Member:
    counted = None if row.total is None else available(row)
    return Member(row.unit_id, row.name, tuple(row.service_kinds), counted)


def _availability_view(expected: list[str], rows: Sequence[Row[Any]]) -> dict[str, Any]:
    members = [_member(r) for r in rows]
    result = availability(expected, members)
    return {
        "expected": len(result.expected),
        "offered": len(result.offered),
        "missing": list(result.missing),
        "offered_services": list(result.offered),
        "label_en": result.label.en,
        "label_fr": result.label.fr,
        "units": [
            {
                "unit_id": m.unit_id,
                "name": m.name,
                "service_kinds": list(m.service_kinds),
                "available": m.available,
                "takes_children": m.takes_children,
            }
            for m in members
        ],
    }


@router.get("/hubs/{hub_id}/services")
async def hub_services(
    _: Annotated[Principal, Depends(permissions.require("availability.read"))],
    hub_id: str,
    request: Request,
) -> dict[str, Any]:
    """The services expected of a hub (its own ``expected_services``) and those offered now
    by the hub and the units that name it as their hub: a unit that counts its places offers
    its services while one is free; a unit that never set a capacity always does."""
    engine = runtime_of(request).engine
    assert engine is not None
    hub = await unit_row(engine, hub_id)
    if hub is None:
        raise not_found("hub", "Pôle")
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                units_with_capacity()
                .where(or_(units.c.hub_id == hub_id, units.c.unit_id == hub_id))
                .order_by(units.c.name, units.c.unit_id)
            )
        ).all()
    return {"hub_id": hub_id, **_availability_view(list(hub.expected_services), rows)}


@router.get("/units/{unit_id}/services")
async def unit_services(
    _: Annotated[Principal, Depends(permissions.require("availability.read"))],
    unit_id: str,
    request: Request,
) -> dict[str, Any]:
    """The services expected of one unit and those it offers now (same rule as for a hub)."""
    engine = runtime_of(request).engine
    assert engine is not None
    row = await unit_row(engine, unit_id)
    if row is None:
        raise not_found("unit", "Unité")
    return {"unit_id": unit_id, **_availability_view(list(row.expected_services), [row])}
