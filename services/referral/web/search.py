"""The search for a service: which units can take this child, best first."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from services.referral.app.common import invalid
from services.referral.config import ReferralConfig, get_config
from services.referral.domain.search import Need, rank
from services.referral.read.projections import units
from services.referral.read.queries import unit_entry, units_with_capacity
from services.referral.web.common import runtime_of
from services.referral.web.permissions import permissions
from shared.auth import Principal
from shared.reference import codes, locations

router = APIRouter(tags=["directory"])


@router.get("/search")
async def search_units(
    config: Annotated[ReferralConfig, Depends(get_config)],
    _: Annotated[Principal, Depends(permissions.require("directory.read"))],
    request: Request,
    service_kind: str,
    age: Annotated[int | None, Query(ge=0, le=17)] = None,
    sex: str | None = None,
    near: str | None = None,
    language: str | None = None,
    on: Annotated[
        datetime | None,
        Query(description="Only units open at some time on this day (default: the day of at)"),
    ] = None,
    at: Annotated[
        datetime | None,
        Query(
            description="Units open at this moment rank first (default: now, unless on is "
            "given); a time without an offset is the country's local time"
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> dict[str, Any]:
    """Who can provide ``service_kind`` for this child near ``near``, open on ``on``, best
    first: open at ``at``, free place, same commune, same department, fit. Days and times
    are read in the country's time zone."""
    if service_kind not in codes().service_kinds:
        raise invalid("service_kind", "Unknown service kind.", "Type de service inconnu.")
    if sex is not None and sex not in codes().sexes:
        raise invalid("sex", "Unknown sex.", "Sexe inconnu.")
    if near is not None and near not in locations().areas:
        raise invalid("near", "Unknown location.", "Lieu inconnu.")
    engine = runtime_of(request).engine
    assert engine is not None
    async with engine.connect() as conn:
        rows = await conn.execute(
            units_with_capacity().where(units.c.service_kinds.contains([service_kind]))
        )
        entries = [unit_entry(r) for r in rows]
    moment = config.local(at) if at is not None else None
    if moment is None and on is None:
        moment = config.local(config.clock())
    day = config.local(on) if on is not None else moment
    need = Need(service_kind, age, sex, near, language, on=day, at=moment)
    ranked = rank(entries, need, locations())[:limit]
    return {
        "at": moment.isoformat() if moment is not None else None,
        "day": day.date().isoformat() if day is not None else None,
        "items": [
            {
                "unit_id": c.unit.unit_id,
                "name": c.unit.name,
                "agency_id": c.unit.agency_id,
                "commune": c.unit.commune,
                "available": c.unit.available,
                "same_commune": c.same_commune,
                "same_department": c.same_department,
                "fit": c.fit,
                "open_now": c.open_now,
            }
            for c in ranked
        ],
    }
