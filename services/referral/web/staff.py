"""Staff of the units, their competency assessments (against the framework loaded at start-up,
so another framework needs no code) and training sessions."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import Field, field_validator
from sqlalchemy import func, select

from contracts.referral import CompetencyAssessed, StaffMemberRegistered, TrainingSessionHeld
from services.referral.app import directory as directory_commands
from services.referral.app.aggregates import STAFF, staff_aggregate_id
from services.referral.app.common import Body, invalid, known_unit
from services.referral.read.projections import assessments, staff, trainings
from services.referral.web.answers import (
    AssessmentRowOut,
    StaffPageOut,
    StaffRecordOut,
    StaffRowOut,
    TrainingPageOut,
    TrainingRowOut,
)
from services.referral.web.common import Page, PageSize, not_found, runtime_of
from services.referral.web.permissions import permissions
from shared.access import sees_agency
from shared.auth import Principal, Role
from shared.command_http import actor_of, command_key, new_aggregate_id, seen, tag
from shared.commands import Expect
from shared.pagination import fetch_page
from shared.reference import check_code, frameworks
from shared.service import Runtime

router = APIRouter(tags=["staff"])


class StaffBody(Body):
    staff_id: str = Field(min_length=1, max_length=200)
    unit: str
    sector: str
    role: str = Field(min_length=1, max_length=100)
    display_name: str = Field(min_length=1, max_length=200)

    @field_validator("sector")
    @classmethod
    def _sector(cls, value: str) -> str:
        return check_code(value, frameworks().sectors, "sector", "Secteur")


class AssessmentBody(Body):
    competency: str
    level: str
    assessor: str = Field(min_length=1, max_length=200)
    assessed_on: date

    @field_validator("competency")
    @classmethod
    def _competency(cls, value: str) -> str:
        return check_code(value, frameworks().competencies, "competency", "Compétence")

    @field_validator("level")
    @classmethod
    def _level(cls, value: str) -> str:
        return check_code(value, frameworks().levels, "level", "Niveau")


class TrainingBody(Body):
    held_on: date
    topic: str = Field(min_length=1, max_length=300)
    trainer: str = Field(min_length=1, max_length=200)
    participants: list[str] = Field(min_length=1, max_length=500)
    sector: str | None = None

    @field_validator("sector")
    @classmethod
    def _sector(cls, value: str | None) -> str | None:
        return (
            None if value is None else check_code(value, frameworks().sectors, "sector", "Secteur")
        )


async def _staff_row(runtime: Runtime, staff_id: str) -> Any:
    assert runtime.engine is not None
    async with runtime.engine.connect() as conn:
        return (await conn.execute(select(staff).where(staff.c.staff_id == staff_id))).one_or_none()


@router.post("/staff", status_code=201)
async def register_staff(
    principal: Annotated[Principal, Depends(permissions.require("staff.manage"))],
    body: StaffBody,
    request: Request,
    response: Response,
) -> StaffMemberRegistered:
    """Register a staff member, or register them again (another unit, role or name): then
    ``If-Match`` names the version of the member the caller read."""
    runtime = runtime_of(request)
    assert runtime.engine is not None and runtime.commands is not None
    unit = await known_unit(runtime.engine, body.unit, "unit")
    if unit.agency_id != principal.agency:
        raise invalid(
            "unit",
            "This unit is not one of your agency's.",
            "Cette unité n'appartient pas à votre structure.",
            "unit_of_another_agency",
        )
    current = await runtime.commands.load(STAFF, staff_aggregate_id(body.staff_id))
    expect = seen(request) if current.exists else Expect.new()
    event = StaffMemberRegistered(agency=unit.agency_id, **body.model_dump())
    outcome = await directory_commands.register_staff(
        runtime,
        event,
        expect=expect,
        actor=actor_of(principal),
        key=command_key(request, principal),
    )
    tag(response, outcome.version)
    return event


@router.post("/staff/{staff_id}/assessments", status_code=201)
async def assess(
    principal: Annotated[Principal, Depends(permissions.require("staff.manage"))],
    staff_id: str,
    body: AssessmentBody,
    request: Request,
    response: Response,
) -> CompetencyAssessed:
    """Record a competency assessment (``If-Match``: the member's version)."""
    runtime = runtime_of(request)
    current = await _staff_row(runtime, staff_id)
    if current is None or current.agency_id != principal.agency:
        # Another agency's staff member answers as a missing one.
        raise not_found("staff member", "Membre du personnel")
    expect = seen(request)
    event = CompetencyAssessed(
        staff_id=staff_id,
        competency=body.competency,
        level=body.level,
        assessor=body.assessor,
        assessed_on=body.assessed_on.isoformat(),
    )
    outcome = await directory_commands.assess_staff(
        runtime,
        event,
        expect=expect,
        actor=actor_of(principal),
        key=command_key(request, principal),
    )
    tag(response, outcome.version)
    return event


@router.get("/staff")
async def list_staff(
    principal: Annotated[Principal, Depends(permissions.require("staff.read"))],
    request: Request,
    unit: str | None = None,
    page: Page = 1,
    page_size: PageSize = 50,
) -> StaffPageOut:
    """The staff of the caller's agency (auditors: of every agency), by name, with how many
    competency assessments each has; ``unit`` keeps one unit's."""
    engine = runtime_of(request).engine
    assert engine is not None
    assessed = (
        select(func.count())
        .where(assessments.c.staff_id == staff.c.staff_id)
        .scalar_subquery()
        .label("assessed")
    )
    query = select(staff, assessed)
    if not principal.has(Role.auditor):
        query = query.where(staff.c.agency_id == principal.agency)
    if unit is not None:
        query = query.where(staff.c.unit_id == unit)
    rows, total = await fetch_page(
        engine,
        query,
        staff.c.display_name,
        staff.c.staff_id,
        offset=(page - 1) * page_size,
        limit=page_size,
    )
    items = []
    for r in rows:
        data = dict(r._mapping)
        data["version"] = data.pop("last_seq")
        items.append(StaffRowOut(**data))
    return StaffPageOut(items=items, total=total, page=page, page_size=page_size)


@router.get("/staff/{staff_id}")
async def get_staff(
    principal: Annotated[Principal, Depends(permissions.require("staff.read"))],
    staff_id: str,
    request: Request,
    response: Response,
) -> StaffRecordOut:
    """A staff member of the caller's agency (auditors: of any agency), with their
    competency assessments; its ``ETag`` goes back in ``If-Match``."""
    runtime = runtime_of(request)
    row = await _staff_row(runtime, staff_id)
    if row is None or not sees_agency(principal, row.agency_id):
        raise not_found("staff member", "Membre du personnel")
    assert runtime.engine is not None
    async with runtime.engine.connect() as conn:
        rows = await conn.execute(
            select(assessments)
            .where(assessments.c.staff_id == staff_id)
            .order_by(assessments.c.seq)
        )
        done = [AssessmentRowOut(**r._mapping) for r in rows]
    view = {k: v for k, v in row._mapping.items() if k != "last_seq"}
    tag(response, row.last_seq)
    return StaffRecordOut(**view, assessments=done, version=row.last_seq)


@router.post("/trainings", status_code=201)
async def record_training(
    principal: Annotated[Principal, Depends(permissions.require("staff.manage"))],
    body: TrainingBody,
    request: Request,
    response: Response,
) -> TrainingSessionHeld:
    runtime = runtime_of(request)
    assert runtime.engine is not None
    async with runtime.engine.connect() as conn:
        known = set(
            (
                await conn.execute(
                    select(staff.c.staff_id).where(staff.c.staff_id.in_(body.participants))
                )
            ).scalars()
        )
    unknown = [p for p in body.participants if p not in known]
    if unknown:
        raise invalid(
            "participants",
            f"Unknown staff: {', '.join(unknown)}.",
            f"Personnel inconnu : {', '.join(unknown)}.",
            "unknown_staff",
        )
    key = command_key(request, principal)
    session_id = new_aggregate_id(key, "training")
    event = TrainingSessionHeld(
        session_id=session_id,
        agency_id=principal.agency,
        held_on=body.held_on.isoformat(),
        topic=body.topic,
        trainer=body.trainer,
        participants=list(dict.fromkeys(body.participants)),
        sector=body.sector,
    )
    outcome = await directory_commands.record_training(
        runtime, event, actor=actor_of(principal), key=key
    )
    tag(response, outcome.version)
    return event


@router.get("/trainings")
async def list_trainings(
    principal: Annotated[Principal, Depends(permissions.require("staff.read"))],
    request: Request,
    page: Page = 1,
    page_size: PageSize = 50,
) -> TrainingPageOut:
    engine = runtime_of(request).engine
    assert engine is not None
    query = select(trainings)
    if not principal.has(Role.auditor):
        query = query.where(trainings.c.agency_id == principal.agency)
    rows, total = await fetch_page(
        engine,
        query,
        trainings.c.held_on.desc(),
        trainings.c.session_id,
        offset=(page - 1) * page_size,
        limit=page_size,
    )
    return TrainingPageOut(
        items=[TrainingRowOut(**r._mapping) for r in rows],
        total=total,
        page=page,
        page_size=page_size,
    )
