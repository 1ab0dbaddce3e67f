"""What CASEWORK's events do to the facts: each case as opened, with the first assessment and
plan, its changes over time (stage, risk, worker, agency), and the services it delivered."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts import casework as case_ev
from services.reporting.read.facts.tables import (
    case_changes,
    cases,
    projection,
    services,
    upsert,
)
from services.reporting.read.facts.values import (
    age_band,
    day_of,
    event_time,
    instant,
    sex_code,
)
from shared.recorded import RecordedEvent


async def _change(conn: AsyncConnection, recorded: RecordedEvent, kind: str, **values: Any) -> None:
    row = {
        "case_id": recorded.aggregate.id,
        "seq": recorded.seq,
        "at": event_time(recorded),
        "kind": kind,
        "stage": None,
        "risk": None,
        "worker": None,
        "agency": None,
        "reason": None,
        "qualified": None,
        **values,
    }
    await conn.execute(upsert(case_changes, row, ["case_id", "seq"]))


@projection.on("casework", "CaseOpened")
async def case_opened(conn: AsyncConnection, recorded: RecordedEvent) -> None:
    e = recorded.event
    assert isinstance(e, case_ev.CaseOpened)
    opened_at = event_time(recorded)
    await conn.execute(
        upsert(
            cases,
            {
                "case_id": e.case_id,
                "child_id": e.child_id,
                "sex": sex_code(e.sex),
                "age_band": age_band(e.age_band),
                "agency": e.agency,
                "unit": e.unit,
                "commune": e.commune,
                "concerns": sorted(set(e.concerns)),
                "urgency": e.urgency,
                "received_at": instant(e.received_at, opened_at),
                "opened_at": opened_at,
                "opened_directly": e.opened_directly,
                "first_assessment_at": None,
                "plan_at": None,
            },
            ["case_id"],
        )
    )
    await _change(
        conn, recorded, "opened", stage="registration", risk=e.initial_risk, agency=e.agency
    )


@projection.on("casework", "ReportAttachedToCase")
async def report_attached(conn: AsyncConnection, recorded: RecordedEvent) -> None:
    e = recorded.event
    assert isinstance(e, case_ev.ReportAttachedToCase)
    case_id = recorded.aggregate.id
    current = (
        await conn.execute(select(cases.c.concerns).where(cases.c.case_id == case_id))
    ).scalar()
    if current is not None:
        merged = sorted({*current, *e.concerns})
        await conn.execute(update(cases).where(cases.c.case_id == case_id).values(concerns=merged))


@projection.on("casework", "CaseAssigned")
async def case_assigned(conn: AsyncConnection, recorded: RecordedEvent) -> None:
    e = recorded.event
    assert isinstance(e, case_ev.CaseAssigned)
    await _change(
        conn, recorded, "assigned", worker=e.worker_id, qualified=not e.missing_competencies
    )


@projection.on("casework", "StageChanged")
async def stage_changed(conn: AsyncConnection, recorded: RecordedEvent) -> None:
    e = recorded.event
    assert isinstance(e, case_ev.StageChanged)
    await _change(conn, recorded, "stage", stage=e.to_stage)
    if e.to_stage == "case_plan":
        await _first(conn, recorded.aggregate.id, "plan_at", event_time(recorded))


@projection.on("casework", "PlanGoalAdded")
async def plan_goal(conn: AsyncConnection, recorded: RecordedEvent) -> None:
    await _first(conn, recorded.aggregate.id, "plan_at", event_time(recorded))


@projection.on("casework", "AssessmentRecorded")
async def assessment(conn: AsyncConnection, recorded: RecordedEvent) -> None:
    e = recorded.event
    assert isinstance(e, case_ev.AssessmentRecorded)
    await _change(conn, recorded, "risk", risk=e.risk_level)
    await _first(conn, recorded.aggregate.id, "first_assessment_at", event_time(recorded))


@projection.on("casework", "FollowUpVisitRecorded")
async def visit(conn: AsyncConnection, recorded: RecordedEvent) -> None:
    e = recorded.event
    assert isinstance(e, case_ev.FollowUpVisitRecorded)
    if e.risk_level:
        await _change(conn, recorded, "risk", risk=e.risk_level)


@projection.on("casework", "TransferAccepted")
async def transfer_accepted(conn: AsyncConnection, recorded: RecordedEvent) -> None:
    e = recorded.event
    assert isinstance(e, case_ev.TransferAccepted)
    await _change(conn, recorded, "transfer", agency=e.to_agency)


@projection.on("casework", "CaseClosed")
async def case_closed(conn: AsyncConnection, recorded: RecordedEvent) -> None:
    e = recorded.event
    assert isinstance(e, case_ev.CaseClosed)
    await _change(conn, recorded, "closed", stage="closure", reason=e.reason)


@projection.on("casework", "CaseReopened")
async def case_reopened(conn: AsyncConnection, recorded: RecordedEvent) -> None:
    await _change(conn, recorded, "reopened", stage="initial_assessment")


@projection.on("casework", "ServiceDelivered")
async def service_delivered(conn: AsyncConnection, recorded: RecordedEvent) -> None:
    e = recorded.event
    assert isinstance(e, case_ev.ServiceDelivered)
    key = f"referral:{e.referral_id}" if e.referral_id else f"service:{e.service_id}"
    row = {
        "service_key": key,
        "child_id": e.child_id,
        "case_id": recorded.aggregate.id,
        "service_kind": e.service_kind,
        "agency": e.agency,
        "unit": e.unit,
        "delivered_on": day_of(e.delivered_on),
        "delivered_at": None if day_of(e.delivered_on) else event_time(recorded),
    }
    # The case's own record of a service carried out by referral replaces what the
    # referral's completion said, whichever stream the projection read first.
    await conn.execute(upsert(services, row, ["service_key"]))


async def _first(conn: AsyncConnection, case_id: str, column: str, at: datetime) -> None:
    await conn.execute(
        update(cases)
        .where(cases.c.case_id == case_id)
        .where(cases.c[column].is_(None))
        .values({column: at})
    )
