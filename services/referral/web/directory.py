"""The service directory: agencies, their units and each unit's capacity.

The search for a service is in ``search.py``; services offered against those expected, in
``availability.py``."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import Field, field_validator, model_validator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.referral import AgencyRegistered, UnitDescribed
from services.referral.app import capacity as places
from services.referral.app import directory as directory_commands
from services.referral.app.aggregates import CAPACITY, UNIT
from services.referral.app.common import ID_PATTERN, Body, invalid
from services.referral.domain import Free, Hold, SetCapacity
from services.referral.domain.search import WEEKDAYS, parse_interval
from services.referral.read.projections import agencies, holds, units
from services.referral.read.queries import unit_row, unit_view, units_with_capacity
from services.referral.web.answers import (
    AgencyOut,
    AgencyPageOut,
    AgencyRowOut,
    CapacityOut,
    HoldOut,
    HoldsOut,
    UnitOut,
    UnitPageOut,
)
from services.referral.web.common import Page, PageSize, get_config, not_found, runtime_of
from services.referral.web.permissions import permissions
from shared.auth import Principal, Role
from shared.command_http import actor_of, command_key, new_aggregate_id, seen, tag
from shared.commands import Expect
from shared.http import ApiError
from shared.i18n import LocalisedValueError, Message
from shared.pagination import fetch_page
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


def invalid_filter(field: str) -> ApiError:
    return ApiError(
        422,
        "invalid_filter",
        Message(en="Unknown value for this filter.", fr="Valeur inconnue pour ce filtre."),
        field=field,
    )


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
    hub_id: str | None = Field(
        default=None,
        pattern=ID_PATTERN,
        description="The unit (a regional hub) whose expected services this unit counts towards",
    )

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


class HoldBody(Body):
    note: str = Field(min_length=1, max_length=500, description="Why the place is held")
    until: date | None = Field(default=None, description="YYYY-MM-DD: when the hold should end")


def _expect(request: Request, exists: bool) -> Expect:
    """A new aggregate expects nothing; a change to an existing one, the version its author
    saw (``If-Match``)."""
    return seen(request) if exists else Expect.new()


@router.post("/agencies", status_code=201)
async def register_agency(
    principal: Annotated[Principal, Depends(permissions.require("agency.register"))],
    body: AgencyBody,
    request: Request,
    response: Response,
) -> AgencyOut:
    runtime = runtime_of(request)
    data = body.model_dump()
    event = AgencyRegistered(agency_name=data.pop("name"), **data)
    outcome = await directory_commands.register_agency(
        runtime, event, actor=actor_of(principal), key=command_key(request, principal)
    )
    tag(response, outcome.version)
    return AgencyOut(**body.model_dump())


@router.get("/agencies")
async def list_agencies(
    _: Annotated[Principal, Depends(permissions.require("directory.read"))],
    request: Request,
    page: Page = 1,
    page_size: PageSize = 50,
) -> AgencyPageOut:
    engine = runtime_of(request).engine
    assert engine is not None
    rows, total = await fetch_page(
        engine,
        select(agencies),
        agencies.c.name,
        agencies.c.agency_id,
        offset=(page - 1) * page_size,
        limit=page_size,
    )
    return AgencyPageOut(
        items=[AgencyRowOut(**r._mapping) for r in rows],
        total=total,
        page=page,
        page_size=page_size,
    )


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
    response: Response,
) -> UnitOut:
    """Describe a new unit, or revise one (``If-Match``: the unit's version)."""
    runtime = runtime_of(request)
    assert runtime.engine is not None and runtime.commands is not None
    current = await runtime.commands.load(UNIT, unit_id)
    if current.exists and not _may_maintain(principal, unit_id, current.state.agency_id):
        # Another agency's unit answers as a missing one, as every foreign record does.
        raise not_found("unit of your agency", "Unité de votre structure")
    if current.exists and current.state.agency_id != body.agency_id:
        raise invalid(
            "agency_id",
            "A unit cannot move to another agency.",
            "Une unité ne peut pas changer de structure.",
        )
    if not _may_maintain(principal, unit_id, body.agency_id):
        raise invalid(
            "agency_id",
            "You can describe only your own agency's units.",
            "Vous ne pouvez décrire que les unités de votre structure.",
            "agency_not_yours",
        )
    expect = _expect(request, current.exists)
    async with runtime.engine.connect() as conn:
        known = await conn.execute(
            select(agencies.c.agency_id).where(agencies.c.agency_id == body.agency_id)
        )
        if known.one_or_none() is None:
            raise invalid("agency_id", "Unknown agency.", "Structure inconnue.", "unknown_agency")
    if body.hub_id is not None:
        await _check_hub(runtime.engine, unit_id, body.hub_id)
    event = UnitDescribed(unit_id=unit_id, unit_name=body.name, **body.model_dump(exclude={"name"}))
    outcome = await directory_commands.describe(
        runtime,
        event,
        expect=expect,
        actor=actor_of(principal),
        key=command_key(request, principal),
    )
    row = await unit_row(runtime.engine, unit_id)
    assert row is not None
    tag(response, outcome.version)
    return UnitOut(**unit_view(row))


async def _check_hub(engine: AsyncEngine, unit_id: str, hub_id: str) -> None:
    if hub_id == unit_id:
        raise invalid(
            "hub_id",
            "A unit cannot be its own hub; leave hub_id out for a hub.",
            "Une unité ne peut pas être son propre pôle ; omettez hub_id pour un pôle.",
            "hub_is_self",
        )
    hub = await unit_row(engine, hub_id)
    if hub is None:
        raise invalid(
            "hub_id",
            "Unknown hub: name a unit already in the directory.",
            "Pôle inconnu : indiquez une unité déjà présente dans l'annuaire.",
            "unknown_hub",
        )
    # Hubs are one level deep (decision 0007): a hub's services are its own and its members',
    # so a hub inside a hub would be counted twice, and a chain could close into a cycle.
    if hub.hub_id is not None:
        raise invalid(
            "hub_id",
            "That unit belongs to a hub itself: name the hub it belongs to.",
            "Cette unité fait elle-même partie d'un pôle : indiquez ce pôle.",
            "hub_is_member",
        )
    async with engine.connect() as conn:
        members = await conn.execute(select(units.c.unit_id).where(units.c.hub_id == unit_id))
        if members.first() is not None:
            raise invalid(
                "hub_id",
                "This unit is a hub for other units, so it cannot belong to a hub.",
                "Cette unité est le pôle d'autres unités : elle ne peut pas appartenir à un pôle.",
                "unit_is_hub",
            )


@router.put("/units/{unit_id}/capacity")
async def set_capacity(
    principal: Annotated[Principal, Depends(permissions.require("capacity.set"))],
    unit_id: str,
    body: CapacityBody,
    request: Request,
    response: Response,
) -> CapacityOut:
    """Set the unit's places; once set, a change names the capacity's version in
    ``If-Match`` (``capacity.version`` of the unit)."""
    runtime = runtime_of(request)
    assert runtime.engine is not None and runtime.commands is not None
    row = await unit_row(runtime.engine, unit_id)
    if row is None:
        raise not_found("unit", "Unité")
    if not _may_maintain(principal, unit_id, row.agency_id):
        raise not_found("unit of your agency", "Unité de votre structure")
    current = await runtime.commands.load(CAPACITY, unit_id)
    outcome = await places.set_capacity(
        runtime,
        unit_id,
        SetCapacity(body.total, body.occupied_outside),
        expect=_expect(request, current.exists),
        actor=actor_of(principal),
        key=command_key(request, principal),
    )
    row = await unit_row(runtime.engine, unit_id)
    assert row is not None
    tag(response, outcome.version)
    return CapacityOut(**unit_view(row)["capacity"])


async def _maintained_unit(request: Request, principal: Principal, unit_id: str) -> None:
    """404 unless the unit exists and the caller maintains it (its coordinator, or an
    administrator of its agency)."""
    engine = runtime_of(request).engine
    assert engine is not None
    row = await unit_row(engine, unit_id)
    if row is None:
        raise not_found("unit", "Unité")
    if not _may_maintain(principal, unit_id, row.agency_id):
        raise not_found("unit of your agency", "Unité de votre structure")


async def _holds(request: Request, response: Response, unit_id: str) -> HoldsOut:
    engine = runtime_of(request).engine
    assert engine is not None
    row = await unit_row(engine, unit_id)
    assert row is not None
    async with engine.connect() as conn:
        held = (
            await conn.execute(
                select(holds).where(holds.c.unit_id == unit_id).order_by(holds.c.held_at)
            )
        ).all()
    view = unit_view(row)["capacity"]
    tag(response, view["version"])
    return HoldsOut(
        capacity=CapacityOut(**view),
        holds=[
            HoldOut(
                hold_id=h.hold_id,
                note=h.note,
                until=h.until,
                held_at=h.held_at.isoformat(),
                held_by=h.held_by,
            )
            for h in held
        ],
    )


@router.get("/units/{unit_id}/holds")
async def list_holds(
    principal: Annotated[Principal, Depends(permissions.require("capacity.set"))],
    unit_id: str,
    request: Request,
    response: Response,
) -> HoldsOut:
    """The places held by hand at the unit, with their notes (for those who maintain it)."""
    await _maintained_unit(request, principal, unit_id)
    return await _holds(request, response, unit_id)


@router.post("/units/{unit_id}/holds", status_code=201)
async def hold_place(
    principal: Annotated[Principal, Depends(permissions.require("capacity.set"))],
    unit_id: str,
    body: HoldBody,
    request: Request,
    response: Response,
) -> HoldsOut:
    """Hold a place by hand (a child placed outside Relais, say), with a note and an optional
    end date; names the capacity's version in ``If-Match``. Refused (409) when the unit does
    not count its places or has none free."""
    await _maintained_unit(request, principal, unit_id)
    runtime = runtime_of(request)
    if body.until is not None:
        config = get_config(request)
        if body.until < config.local(config.clock()).date():
            raise invalid(
                "until",
                "The end date is in the past.",
                "La date de fin est passée.",
                "date_in_past",
            )
    key = command_key(request, principal)
    command = Hold(
        hold_id=new_aggregate_id(key, "hold", unit_id),
        note=body.note,
        until=body.until.isoformat() if body.until else None,
    )
    assert runtime.commands is not None
    # A unit that never set its capacity has none to hold: the domain says so (409).
    current = await runtime.commands.load(CAPACITY, unit_id)
    expect = _expect(request, current.exists)
    await places.set_capacity(
        runtime, unit_id, command, expect=expect, actor=actor_of(principal), key=key
    )
    return await _holds(request, response, unit_id)


@router.post("/units/{unit_id}/holds/{hold_id}/release")
async def free_place(
    principal: Annotated[Principal, Depends(permissions.require("capacity.set"))],
    unit_id: str,
    hold_id: Annotated[str, Path(pattern=ID_PATTERN)],
    request: Request,
    response: Response,
) -> HoldsOut:
    """Release a place held by hand; names the capacity's version in ``If-Match``."""
    await _maintained_unit(request, principal, unit_id)
    runtime = runtime_of(request)
    await places.set_capacity(
        runtime,
        unit_id,
        Free(hold_id),
        expect=seen(request),
        actor=actor_of(principal),
        key=command_key(request, principal),
    )
    return await _holds(request, response, unit_id)


@router.get("/units")
async def list_units(
    _: Annotated[Principal, Depends(permissions.require("directory.read"))],
    request: Request,
    agency_id: str | None = None,
    service_kind: str | None = None,
    commune: str | None = None,
    page: Page = 1,
    page_size: PageSize = 50,
) -> UnitPageOut:
    engine = runtime_of(request).engine
    assert engine is not None
    # A filter on a closed list names one of its codes (GET /reference/...).
    if commune and commune not in locations().areas:
        raise invalid_filter("commune")
    if service_kind and service_kind not in codes().service_kinds:
        raise invalid_filter("service_kind")
    query = units_with_capacity()
    if agency_id:
        query = query.where(units.c.agency_id == agency_id)
    if service_kind:
        query = query.where(units.c.service_kinds.contains([service_kind]))
    if commune:
        query = query.where(units.c.commune == commune)
    rows, total = await fetch_page(
        engine,
        query,
        units.c.name,
        units.c.unit_id,
        offset=(page - 1) * page_size,
        limit=page_size,
    )
    return UnitPageOut(
        items=[UnitOut(**unit_view(r)) for r in rows], total=total, page=page, page_size=page_size
    )


@router.get("/units/{unit_id}")
async def get_unit(
    _: Annotated[Principal, Depends(permissions.require("directory.read"))],
    unit_id: str,
    request: Request,
    response: Response,
) -> UnitOut:
    """The unit; its ``ETag`` is the unit's version (``capacity.version`` is the capacity's)."""
    engine = runtime_of(request).engine
    assert engine is not None
    row = await unit_row(engine, unit_id)
    if row is None:
        raise not_found("unit", "Unité")
    tag(response, row.last_seq)
    return UnitOut(**unit_view(row))
