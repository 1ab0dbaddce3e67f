"""The service directory: agencies, units, capacity and the search for a service."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import Field, field_validator, model_validator
from sqlalchemy import func, select

from services.referral.domain import SetCapacity, decide_capacity
from services.referral.events import AgencyRegistered, UnitDescribed
from services.referral.permissions import permissions
from services.referral.policies import ReferralConfig, get_config
from services.referral.projections import agencies, capacity, units
from services.referral.queries import capacity_state, unit_entry, unit_row, unit_view
from services.referral.search import WEEKDAYS, Need, parse_interval, rank
from services.referral.web import (
    ID_PATTERN,
    Body,
    IdempotencyKey,
    Page,
    PageSize,
    actor,
    aggregate,
    forbidden_row,
    invalid,
    not_found,
    paged,
    runtime_of,
)
from shared.auth import Principal, Role
from shared.i18n import LocalisedValueError, Message
from shared.reference import check_code, codes, locations

router = APIRouter(tags=["directory"])

AgencyType = Literal[
    "government", "police", "gendarmerie", "justice", "health", "ngo", "international"
]


def _commune(value: str | None) -> str | None:
    if value is not None and value not in locations().areas:
        raise LocalisedValueError(
            Message(en=f"Unknown location '{value}'.", fr=f"Lieu inconnu « {value} ».")
        )
    return value


class AgencyBody(Body):
    agency_id: str = Field(pattern=ID_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    type: AgencyType
    commune: str | None = None

    _check_commune = field_validator("commune")(_commune)


class UnitBody(Body):
    agency_id: str = Field(pattern=ID_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    commune: str
    service_kinds: list[str] = Field(min_length=1, max_length=20)
    opening_hours: dict[str, list[str]]
    languages: list[str] = Field(default_factory=list, max_length=20)
    min_age: int = Field(default=0, ge=0, le=17)
    max_age: int = Field(default=17, ge=0, le=17)
    sexes: list[str] = Field(default_factory=list, description="Empty: every sex")
    expected_services: list[str] = Field(default_factory=list, max_length=20)
    supervisor: str | None = Field(default=None, max_length=200)

    _check_commune = field_validator("commune")(_commune)

    @field_validator("service_kinds", "expected_services")
    @classmethod
    def _kinds(cls, value: list[str]) -> list[str]:
        for kind in value:
            check_code(kind, codes().service_kinds, "service kind", "Type de service")
        return list(dict.fromkeys(value))

    @field_validator("sexes")
    @classmethod
    def _sexes(cls, value: list[str]) -> list[str]:
        for sex in value:
            check_code(sex, codes().sexes, "sex", "Sexe")
        return value

    @field_validator("opening_hours")
    @classmethod
    def _hours(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for day, intervals in value.items():
            if day not in WEEKDAYS:
                raise LocalisedValueError(
                    Message(
                        en=f"Unknown day '{day}'; expected one of: {', '.join(WEEKDAYS)}.",
                        fr=f"Jour inconnu « {day} » ; valeurs possibles : {', '.join(WEEKDAYS)}.",
                    )
                )
            for interval in intervals:
                try:
                    parse_interval(interval)
                except ValueError:
                    raise LocalisedValueError(
                        Message(
                            en=f"'{interval}' is not an opening interval like 08:00-17:30.",
                            fr=f"« {interval} » n'est pas une plage horaire comme 08:00-17:30.",
                        )
                    ) from None
        return value

    @model_validator(mode="after")
    def _ages(self) -> UnitBody:
        if self.min_age > self.max_age:
            raise LocalisedValueError(
                Message(
                    en="min_age must not be above max_age.",
                    fr="min_age ne doit pas dépasser max_age.",
                )
            )
        return self


class CapacityBody(Body):
    total: int = Field(ge=0, le=100_000)
    occupied_outside: int = Field(default=0, ge=0, le=100_000)


@router.post("/agencies", status_code=201)
async def register_agency(
    principal: Annotated[Principal, Depends(permissions.require("agency.register"))],
    body: AgencyBody,
    request: Request,
    key: IdempotencyKey = None,
) -> dict[str, Any]:
    runtime = runtime_of(request)
    data = body.model_dump()
    event = AgencyRegistered(agency_name=data.pop("name"), **data)
    await runtime.commit(
        aggregate(runtime, "agency", body.agency_id),
        0,
        [event],
        actor=actor(principal),
        idempotency_key=key,
    )
    return body.model_dump()


@router.get("/agencies")
async def list_agencies(
    _: Annotated[Principal, Depends(permissions.require("directory.read"))],
    request: Request,
    page: Page = 1,
    page_size: PageSize = 50,
) -> dict[str, Any]:
    engine = runtime_of(request).engine
    assert engine is not None
    async with engine.connect() as conn:
        total = (await conn.execute(select(func.count()).select_from(agencies))).scalar_one()
        rows = await conn.execute(
            select(agencies)
            .order_by(agencies.c.name)
            .offset((page - 1) * page_size)
            .limit(page_size)
        )
        items = [dict(r._mapping) for r in rows]
    return paged(items, total, page, page_size)


def _may_maintain(principal: Principal, unit_id: str, agency_id: str) -> bool:
    if principal.has(Role.agency_admin) and principal.agency == agency_id:
        return True
    return principal.has(Role.unit_coordinator) and principal.unit == unit_id


@router.put("/units/{unit_id}")
async def describe_unit(
    principal: Annotated[Principal, Depends(permissions.require("unit.describe"))],
    unit_id: Annotated[str, Path(pattern=ID_PATTERN)],
    body: UnitBody,
    request: Request,
    key: IdempotencyKey = None,
) -> dict[str, Any]:
    runtime = runtime_of(request)
    assert runtime.engine is not None
    current = await unit_row(runtime.engine, unit_id)
    if current is not None and current.agency_id != body.agency_id:
        raise invalid(
            "agency_id",
            "A unit cannot move to another agency.",
            "Une unité ne peut pas changer de structure.",
        )
    if not _may_maintain(principal, unit_id, body.agency_id):
        raise forbidden_row()
    async with runtime.engine.connect() as conn:
        known = await conn.execute(
            select(agencies.c.agency_id).where(agencies.c.agency_id == body.agency_id)
        )
        if known.one_or_none() is None:
            raise invalid("agency_id", "Unknown agency.", "Structure inconnue.", "unknown_agency")
    await runtime.commit(
        aggregate(runtime, "unit", unit_id),
        current.last_seq if current is not None else 0,
        [UnitDescribed(unit_id=unit_id, unit_name=body.name, **body.model_dump(exclude={"name"}))],
        actor=actor(principal),
        idempotency_key=key,
    )
    row = await unit_row(runtime.engine, unit_id)
    assert row is not None
    return unit_view(row)


@router.put("/units/{unit_id}/capacity")
async def set_capacity(
    principal: Annotated[Principal, Depends(permissions.require("capacity.set"))],
    unit_id: str,
    body: CapacityBody,
    request: Request,
    key: IdempotencyKey = None,
) -> dict[str, Any]:
    runtime = runtime_of(request)
    assert runtime.engine is not None
    row = await unit_row(runtime.engine, unit_id)
    if row is None:
        raise not_found("unit", "Unité")
    if not _may_maintain(principal, unit_id, row.agency_id):
        raise forbidden_row()
    state, version = await capacity_state(runtime.engine, unit_id)
    events = decide_capacity(state, SetCapacity(body.total, body.occupied_outside))
    await runtime.commit(
        aggregate(runtime, "capacity", unit_id),
        version,
        events,
        actor=actor(principal),
        idempotency_key=key,
    )
    row = await unit_row(runtime.engine, unit_id)
    assert row is not None
    view: dict[str, Any] = unit_view(row)["capacity"]
    return view


@router.get("/units")
async def list_units(
    _: Annotated[Principal, Depends(permissions.require("directory.read"))],
    request: Request,
    agency_id: str | None = None,
    service_kind: str | None = None,
    commune: str | None = None,
    page: Page = 1,
    page_size: PageSize = 50,
) -> dict[str, Any]:
    engine = runtime_of(request).engine
    assert engine is not None
    query = select(
        units, capacity.c.total, capacity.c.occupied_outside, capacity.c.reserved
    ).outerjoin(capacity, capacity.c.unit_id == units.c.unit_id)
    if agency_id:
        query = query.where(units.c.agency_id == agency_id)
    if service_kind:
        query = query.where(units.c.service_kinds.contains([service_kind]))
    if commune:
        query = query.where(units.c.commune == commune)
    async with engine.connect() as conn:
        total = (
            await conn.execute(select(func.count()).select_from(query.subquery()))
        ).scalar_one()
        rows = await conn.execute(
            query.order_by(units.c.name).offset((page - 1) * page_size).limit(page_size)
        )
        items = [unit_view(r) for r in rows]
    return paged(items, total, page, page_size)


@router.get("/units/{unit_id}")
async def get_unit(
    _: Annotated[Principal, Depends(permissions.require("directory.read"))],
    unit_id: str,
    request: Request,
) -> dict[str, Any]:
    engine = runtime_of(request).engine
    assert engine is not None
    row = await unit_row(engine, unit_id)
    if row is None:
        raise not_found("unit", "Unité")
    return unit_view(row)


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
    on: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> dict[str, Any]:
    """Who can provide ``service_kind`` for this child near ``near`` on ``on`` (default today),
    best first: free place, same commune, same department, fit."""
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
            select(units, capacity.c.total, capacity.c.occupied_outside, capacity.c.reserved)
            .outerjoin(capacity, capacity.c.unit_id == units.c.unit_id)
            .where(units.c.service_kinds.contains([service_kind]))
        )
        entries = [unit_entry(r) for r in rows]
    need = Need(service_kind, age, sex, near, language, on or config.clock())
    ranked = rank(entries, need, locations())[:limit]
    return {
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
            }
            for c in ranked
        ]
    }
