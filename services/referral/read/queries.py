"""Reading the projection: rows, the domain state they stand for, and the views people get."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, Select, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.referral.domain import Capacity, Referral, Status
from services.referral.domain.search import UnitEntry
from services.referral.read.cases import case_owners
from services.referral.read.projections import capacity, referrals, reservations, units

# What the receiving unit always sees: the referral's own bookkeeping, nothing about the child.
RECEIVER_FIELDS = (
    "referral_id",
    "status",
    "service_kind",
    "from_agency",
    "to_agency",
    "to_unit",
    "made_at",
    "due_at",
    "answered_at",
    "closed_at",
    "overdue",
    "escalated",
    "override_reason",
    "decline_reason",
    "suggested_unit",
    "outcome",
    "withdraw_reason",
)


def referral_state(row: Row[Any]) -> Referral:
    return Referral(
        referral_id=row.referral_id,
        case_id=row.case_id,
        to_unit=row.to_unit,
        status=Status(row.status),
        due_at=row.due_at,
        overdue=row.overdue,
        escalated=row.escalated,
    )


# The agency that owns the referral's case now: referrals follow a case transferred to another
# agency, as the rest of the case does. Until casework's events say otherwise, the referrer's.
case_agency = func.coalesce(case_owners.c.agency, referrals.c.from_agency).label("case_agency")


def referrals_with_owner() -> Select[Any]:
    return select(referrals, case_agency).outerjoin(
        case_owners, case_owners.c.case_id == referrals.c.case_id
    )


async def referral_row(engine: AsyncEngine, referral_id: str) -> Row[Any] | None:
    query = referrals_with_owner().where(referrals.c.referral_id == referral_id)
    async with engine.connect() as conn:
        row: Row[Any] | None = (await conn.execute(query)).one_or_none()
    return row


async def unit_row(engine: AsyncEngine, unit_id: str) -> Row[Any] | None:
    async with engine.connect() as conn:
        return (
            await conn.execute(
                select(units, capacity.c.total, capacity.c.occupied_outside, capacity.c.reserved)
                .outerjoin(capacity, capacity.c.unit_id == units.c.unit_id)
                .where(units.c.unit_id == unit_id)
            )
        ).one_or_none()


def units_with_capacity() -> Select[Any]:
    """Every unit with its capacity columns (``None`` for a unit that never set one)."""
    return select(
        units, capacity.c.total, capacity.c.occupied_outside, capacity.c.reserved
    ).outerjoin(capacity, capacity.c.unit_id == units.c.unit_id)


async def capacity_state(engine: AsyncEngine, unit_id: str) -> tuple[Capacity, int]:
    """The unit's capacity and its aggregate's last sequence (0: never written)."""
    async with engine.connect() as conn:
        row = (
            await conn.execute(select(capacity).where(capacity.c.unit_id == unit_id))
        ).one_or_none()
        held = (
            await conn.execute(
                select(reservations.c.referral_id).where(reservations.c.unit_id == unit_id)
            )
        ).scalars()
        reserved = frozenset(str(r) for r in held)
    if row is None:
        return Capacity(unit_id), 0
    return (
        Capacity(unit_id, row.total, row.occupied_outside, reserved, counted=True),
        int(row.last_seq),
    )


def available(row: Row[Any]) -> int:
    if row.total is None:
        return 0
    return max(0, int(row.total) - int(row.occupied_outside) - int(row.reserved))


def unit_entry(row: Row[Any]) -> UnitEntry:
    return UnitEntry(
        unit_id=row.unit_id,
        name=row.name,
        agency_id=row.agency_id,
        commune=row.commune,
        service_kinds=tuple(row.service_kinds),
        opening_hours=dict(row.opening_hours),
        languages=tuple(row.languages),
        min_age=row.min_age,
        max_age=row.max_age,
        sexes=tuple(row.sexes),
        available=available(row),
    )


def unit_view(row: Row[Any]) -> dict[str, Any]:
    offered = set(row.service_kinds)
    expected = list(row.expected_services)
    return {
        "unit_id": row.unit_id,
        "agency_id": row.agency_id,
        "name": row.name,
        "commune": row.commune,
        "service_kinds": row.service_kinds,
        "opening_hours": row.opening_hours,
        "languages": row.languages,
        "min_age": row.min_age,
        "max_age": row.max_age,
        "sexes": row.sexes,
        "supervisor": row.supervisor,
        "hub_id": row.hub_id,
        "capacity": {
            "total": row.total or 0,
            "occupied_outside": row.occupied_outside or 0,
            "reserved": row.reserved or 0,
            "available": available(row),
        },
        "expected_services": {
            "expected": len(expected),
            "offered": len([s for s in expected if s in offered]),
            "missing": [s for s in expected if s not in offered],
        },
        "version": row.last_seq,
    }


def _time(value: Any) -> Any:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def full_view(row: Row[Any]) -> dict[str, Any]:
    data = {k: _time(v) if k.endswith("_at") else v for k, v in row._mapping.items()}
    data.pop("last_command_id", None)
    data["version"] = data.pop("last_seq")
    return data


def shared_view(row: Row[Any]) -> dict[str, Any]:
    """The receiving unit's view: bookkeeping plus exactly the fields the referrer shared."""
    full = full_view(row)
    view = {k: full[k] for k in RECEIVER_FIELDS}
    for name in row.shared_fields:
        if name in ("urgency", "reason"):
            view[name] = full[name]
        else:
            view[name] = row.details.get(name)
    view["version"] = full["version"]
    return view
