"""Staff of the units, their competency assessments (against the framework loaded at start-up,
so another framework needs no code) and training sessions."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import Field, field_validator
from sqlalchemy import select

from contracts.referral import CompetencyAssessed, StaffMemberRegistered, TrainingSessionHeld
from services.referral.app.common import Body, actor, aggregate, invalid, known_unit
from services.referral.read.projections import assessments, staff, trainings
from services.referral.web.common import (
    IdempotencyKey,
    Page,
    PageSize,
    not_found,
    paged,
    runtime_of,
)
from services.referral.web.permissions import permissions
from shared.access import sees_agency
from shared.auth import Principal, Role
from shared.ids import derived_id, new_id
from shared.pagination import fetch_page
from shared.reference import check_code, frameworks
from shared.service import Runtime

router = APIRouter(tags=["staff"])


def _staff_aggregate_id(staff_id: str) -> str:
    # User ids may hold dots or '@', which a NATS subject token cannot.
    return derived_id("staff", staff_id)


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
    key: IdempotencyKey = None,
) -> dict[str, Any]:
    runtime = runtime_of(request)
    assert runtime.engine is not None
    unit = await known_unit(runtime.engine, body.unit, "unit")
    if unit.agency_id != principal.agency:
        raise invalid(
            "unit",
            "This unit is not one of your agency's.",
            "Cette unité n'appartient pas à votre structure.",
            "unit_of_another_agency",
        )
    current = await _staff_row(runtime, body.staff_id)
    event = StaffMemberRegistered(agency=unit.agency_id, **body.model_dump())
    await runtime.commit(
        aggregate(runtime, "staff", _staff_aggregate_id(body.staff_id)),
        current.last_seq if current is not None else 0,
        [event],
        actor=actor(principal),
        idempotency_key=key,
    )
    return event.model_dump()


@router.post("/staff/{staff_id}/assessments", status_code=201)
async def assess(
    principal: Annotated[Principal, Depends(permissions.require("staff.manage"))],
    staff_id: str,
    body: AssessmentBody,
    request: Request,
    key: IdempotencyKey = None,
) -> dict[str, Any]:
    runtime = runtime_of(request)
    current = await _staff_row(runtime, staff_id)
    if current is None or current.agency_id != principal.agency:
        # Another agency's staff member answers as a missing one.
        raise not_found("staff member", "Membre du personnel")
    event = CompetencyAssessed(
        staff_id=staff_id,
        competency=body.competency,
        level=body.level,
        assessor=body.assessor,
        assessed_on=body.assessed_on.isoformat(),
    )
    await runtime.commit(
        aggregate(runtime, "staff", _staff_aggregate_id(staff_id)),
        current.last_seq,
        [event],
        actor=actor(principal),
        idempotency_key=key,
    )
    return event.model_dump()


@router.get("/staff/{staff_id}")
async def get_staff(
    principal: Annotated[Principal, Depends(permissions.require("staff.read"))],
    staff_id: str,
    request: Request,
) -> dict[str, Any]:
    """A staff member of the caller's agency (auditors: of any agency), with their
    competency assessments."""
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
        done = [{k: v for k, v in r._mapping.items() if k != "seq"} for r in rows]
    view = {k: v for k, v in row._mapping.items() if k != "last_seq"}
    return {**view, "assessments": done}


@router.post("/trainings", status_code=201)
async def record_training(
    principal: Annotated[Principal, Depends(permissions.require("staff.manage"))],
    body: TrainingBody,
    request: Request,
    key: IdempotencyKey = None,
) -> dict[str, Any]:
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
    session_id = derived_id("training", principal.user, key) if key else new_id()
    event = TrainingSessionHeld(
        session_id=session_id,
        agency_id=principal.agency,
        held_on=body.held_on.isoformat(),
        topic=body.topic,
        trainer=body.trainer,
        participants=list(dict.fromkeys(body.participants)),
        sector=body.sector,
    )
    await runtime.commit(
        aggregate(runtime, "training", session_id),
        0,
        [event],
        actor=actor(principal),
        idempotency_key=key,
    )
    return event.model_dump()


@router.get("/trainings")
async def list_trainings(
    principal: Annotated[Principal, Depends(permissions.require("staff.read"))],
    request: Request,
    page: Page = 1,
    page_size: PageSize = 50,
) -> dict[str, Any]:
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
    return paged([dict(r._mapping) for r in rows], total, page, page_size)
