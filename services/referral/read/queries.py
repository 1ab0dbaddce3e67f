"""Reading the projection: rows, the domain state they stand for, and the views people get."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Row, Select, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.referral import ReferralDetailsShared, ReferralMade
from services.referral.domain import Status
from services.referral.domain.search import UnitEntry
from services.referral.read.cases import case_owners
from services.referral.read.projections import capacity, referrals, units

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
                select(
                    units,
                    capacity.c.total,
                    capacity.c.occupied_outside,
                    capacity.c.reserved,
                    capacity.c.held,
                    capacity.c.last_seq.label("capacity_version"),
                )
                .outerjoin(capacity, capacity.c.unit_id == units.c.unit_id)
                .where(units.c.unit_id == unit_id)
            )
        ).one_or_none()


def units_with_capacity() -> Select[Any]:
    """Every unit with its capacity columns (``None`` for a unit that never set one)."""
    return select(
        units,
        capacity.c.total,
        capacity.c.occupied_outside,
        capacity.c.reserved,
        capacity.c.held,
        capacity.c.last_seq.label("capacity_version"),
    ).outerjoin(capacity, capacity.c.unit_id == units.c.unit_id)


def available(row: Row[Any]) -> int:
    if row.total is None:
        return 0
    held = int(row.held or 0)
    return max(0, int(row.total) - int(row.occupied_outside) - int(row.reserved) - held)


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
            "held": row.held or 0,
            "available": available(row),
            "version": row.capacity_version or 0,
        },
        "expected_services": {
            "expected": len(expected),
            "offered": len([s for s in expected if s in offered]),
            "missing": [s for s in expected if s not in offered],
            "kinds": expected,
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


def receiver_view(
    full: Mapping[str, Any], shared_fields: Iterable[str], details: Mapping[str, Any]
) -> dict[str, Any]:
    """The receiving unit's view: bookkeeping plus exactly the fields the referrer shared."""
    view = {k: full[k] for k in RECEIVER_FIELDS}
    for name in shared_fields:
        if name in ("urgency", "reason"):
            view[name] = full[name]
        else:
            view[name] = details.get(name)
    view["version"] = full["version"]
    return view


def shared_view(row: Row[Any]) -> dict[str, Any]:
    return receiver_view(full_view(row), row.shared_fields, row.details)


def preview_view(made: ReferralMade, details: ReferralDetailsShared, now: str) -> dict[str, Any]:
    """What the receiving unit would see of a referral about to be made, by the same rule as
    :func:`shared_view` and with the values its projection would store (nothing answered yet)."""
    full = made.model_dump(mode="json") | {
        "status": Status.made.value,
        "made_at": now,
        "answered_at": None,
        "closed_at": None,
        "overdue": False,
        "escalated": False,
        "override_reason": None,
        "decline_reason": None,
        "suggested_unit": None,
        "outcome": None,
        "withdraw_reason": None,
        "version": 0,
    }
    shared = details.model_dump(mode="json", exclude={"referral_id"}, exclude_none=True)
    return receiver_view(full, made.shared_fields, shared)
