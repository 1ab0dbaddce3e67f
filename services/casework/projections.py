"""Casework's read model of cases, fed by intake, referral and casework events (the staff
directory is in ``directory.py``): its tables, and the handlers of a case's workflow from
the accepted report to closure. Handlers of what follows the plan are in
``projections_followup.py``, those of referral requests and outcomes in
``projections_referrals.py``; all register on the one ``projection`` defined here.

Events from different streams arrive in no particular order relative to each other (a
rebuild replays every stream at once), so every cross-stream handler is an upsert and joins
happen at read time."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Index,
    MetaData,
    String,
    Table,
    Text,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.casework import events as ev
from services.intake.events import ReportAccepted
from shared.projection import Projection
from shared.recorded import RecordedEvent

metadata = MetaData()

cases = Table(
    "cw_cases",
    metadata,
    Column("case_id", String(64), primary_key=True),
    Column("child_id", String(64), nullable=False, index=True),
    Column("sex", String(20), nullable=False),
    Column("age_band", String(10), nullable=False),
    Column("agency", String(200), nullable=False, index=True),
    Column("unit", String(200)),
    Column("commune", String(100), nullable=False),
    Column("concerns", JSONB, nullable=False),
    Column("urgency", String(20), nullable=False),
    Column("risk_level", String(20), nullable=False, index=True),
    Column("stage", String(40), nullable=False, index=True),
    Column("stage_due_at", DateTime(timezone=True), index=True),
    Column("stage_entered_seq", BigInteger, nullable=False),
    Column("overdue_flagged", Boolean, nullable=False, default=False),
    Column("status", String(30), nullable=False, index=True),
    Column("worker_id", String(200), index=True),
    Column("supervisor_id", String(200)),
    Column("competency_override", Boolean, nullable=False, default=False),
    Column("closure_reason", String(40)),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("opened_at", DateTime(timezone=True), nullable=False),
    Column("closed_at", DateTime(timezone=True)),
    Column("opened_directly", Boolean, nullable=False, default=False),
    # Since when the current agency has had the case: opening, or the accepted transfer.
    Column("owner_since", DateTime(timezone=True), nullable=False),
    Column("next_visit_due", String(10)),
    # The moment the scheduled visit counts as missed: the start of the day after it is due.
    Column("visit_due_at", DateTime(timezone=True), index=True),
    Column("visit_overdue_flagged", Boolean, nullable=False, default=False),
    Column("last_seq", BigInteger, nullable=False),
    # Assessments, determinations, goals, reports and the pending closure request: read whole
    # with the case, never queried across cases.
    Column("detail", JSONB, nullable=False),
)

case_reports = Table(
    "cw_case_reports",
    metadata,
    Column("report_id", String(64), primary_key=True),
    Column("child_id", String(64), primary_key=True),
    Column("case_id", String(64), nullable=False, index=True),
)

# Accepted reports waiting for the process manager to open or extend a case.
pending = Table(
    "cw_pending_reports",
    metadata,
    Column("report_id", String(64), primary_key=True),
    Column("child_id", String(64), primary_key=True),
    Column("status", String(20), nullable=False),  # pending, done
    Column("case_id", String(64)),
    Column("data", JSONB, nullable=False),
    Column("seq", BigInteger, nullable=False),
    Index("ix_cw_pending_status", "status", "seq"),
)

actions = Table(
    "cw_plan_actions",
    metadata,
    Column("action_id", String(64), primary_key=True),
    Column("case_id", String(64), nullable=False, index=True),
    Column("goal_id", String(64), nullable=False),
    Column("text", Text, nullable=False),
    Column("responsible_agency", String(200), nullable=False),
    Column("responsible_unit", String(200)),
    Column("service_kind", String(60), nullable=False),
    Column("due_on", String(10), nullable=False),
    Column("referral_id", String(64), index=True),
    Column("seq", BigInteger, nullable=False),
)

referrals = Table(
    "cw_referrals",
    metadata,
    Column("referral_id", String(64), primary_key=True),
    Column("case_id", String(64), nullable=False, index=True),
    Column("status", String(20), nullable=False),
    Column("service_kind", String(60)),
    Column("to_agency", String(200)),
    Column("to_unit", String(200)),
    Column("refusal_code", String(100)),
    Column("refusal_en", Text),
    Column("refusal_fr", Text),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# Read only through GET /cases/{id}/notes, which filters by sensitivity: never joined into
# a list or the case detail.
notes = Table(
    "cw_notes",
    metadata,
    Column("note_id", String(64), primary_key=True),
    Column("case_id", String(64), nullable=False, index=True),
    Column("sensitivity", String(20), nullable=False),
    Column("text", Text, nullable=False),
    Column("author", String(200), nullable=False),
    Column("author_agency", String(200), nullable=False),
    Column("written_at", DateTime(timezone=True), nullable=False),
    Column("seq", BigInteger, nullable=False),
)

transfers = Table(
    "cw_transfers",
    metadata,
    Column("transfer_id", String(64), primary_key=True),
    Column("case_id", String(64), nullable=False, index=True),
    Column("from_agency", String(200), nullable=False),
    Column("to_agency", String(200), nullable=False),
    Column("to_unit", String(200)),
    Column("status", String(20), nullable=False),  # pending, accepted, declined, withdrawn
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("answered_at", DateTime(timezone=True)),
    Index("ix_cw_transfers_to", "to_agency", "status"),
    Index("ix_cw_transfers_from", "from_agency", "status"),
)

# v4: corrections of the child's details sent to intake, with intake's answers, in a table
# of their own (cw_child_corrections) rather than the case's detail.
projection = Projection(name="casework.cases", version=4, metadata=metadata)


def as_datetime(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def touch(conn: AsyncConnection, e: RecordedEvent, **values: Any) -> None:
    """Update the case the event belongs to, moving its version (``last_seq``, which clients
    send back in ``If-Match``) on."""
    await conn.execute(
        update(cases).where(cases.c.case_id == e.aggregate.id).values(last_seq=e.seq, **values)
    )


async def case_detail(conn: AsyncConnection, case_id: str) -> dict[str, Any]:
    row = (await conn.execute(select(cases.c.detail).where(cases.c.case_id == case_id))).scalar()
    return dict(row or {})


async def append_detail(
    conn: AsyncConnection, e: RecordedEvent, key: str, item: dict[str, Any], **values: Any
) -> None:
    detail = await case_detail(conn, e.aggregate.id)
    detail[key] = [*detail.get(key, []), {**item, "at": e.time, "by": e.actor.user}]
    await touch(conn, e, detail=detail, **values)


# -- intake --------------------------------------------------------------------------------


@projection.on("intake", "ReportAccepted")
async def _report_accepted(conn: AsyncConnection, e: RecordedEvent) -> None:
    r = e.event
    assert isinstance(r, ReportAccepted)
    for child in r.children:
        known = (
            await conn.execute(
                select(case_reports.c.case_id)
                .where(case_reports.c.report_id == r.report_id)
                .where(case_reports.c.child_id == child.child_id)
            )
        ).scalar()
        data = {
            "sex": child.sex,
            "age_band": child.age_band,
            "agency": r.agency,
            "unit": r.unit,
            "commune": r.commune,
            "concerns": r.concerns,
            "urgency": r.urgency,
            "immediate_danger": r.immediate_danger,
            "received_at": r.received_at,
        }
        await conn.execute(
            insert(pending)
            .values(
                report_id=r.report_id,
                child_id=child.child_id,
                status="done" if known else "pending",
                case_id=known,
                data=data,
                seq=e.seq,
            )
            .on_conflict_do_nothing()
        )


async def _report_done(conn: AsyncConnection, report_id: str, child_id: str, case_id: str) -> None:
    await conn.execute(
        insert(case_reports)
        .values(report_id=report_id, child_id=child_id, case_id=case_id)
        .on_conflict_do_nothing()
    )
    await conn.execute(
        update(pending)
        .where(pending.c.report_id == report_id)
        .where(pending.c.child_id == child_id)
        .values(status="done", case_id=case_id)
    )


# -- casework ------------------------------------------------------------------------------


@projection.on("casework", "CaseOpened")
async def _opened(conn: AsyncConnection, e: RecordedEvent) -> None:
    o = e.event
    assert isinstance(o, ev.CaseOpened)
    await conn.execute(
        insert(cases)
        .values(
            case_id=o.case_id,
            child_id=o.child_id,
            sex=o.sex,
            age_band=o.age_band,
            agency=o.agency,
            unit=o.unit,
            commune=o.commune,
            concerns=o.concerns,
            urgency=o.urgency,
            risk_level=o.initial_risk,
            stage="registration",
            stage_due_at=as_datetime(o.registration_due_at),
            stage_entered_seq=e.seq,
            overdue_flagged=False,
            status="open",
            competency_override=False,
            received_at=as_datetime(o.received_at),
            opened_at=as_datetime(e.time),
            opened_directly=o.opened_directly,
            owner_since=as_datetime(e.time),
            visit_overdue_flagged=False,
            last_seq=e.seq,
            detail={
                "reports": [{"report_id": o.report_id, "received_at": o.received_at}]
                if o.report_id
                else []
            },
        )
        .on_conflict_do_nothing()
    )
    if o.report_id:
        await _report_done(conn, o.report_id, o.child_id, o.case_id)


@projection.on("casework", "ChildIdentified")
async def _child_identified(conn: AsyncConnection, e: RecordedEvent) -> None:
    # The description is intake's to keep; here it only moves the case's version on.
    await touch(conn, e)


@projection.on("casework", "ReportAttachedToCase")
async def _attached(conn: AsyncConnection, e: RecordedEvent) -> None:
    a = e.event
    assert isinstance(a, ev.ReportAttachedToCase)
    row = (await conn.execute(select(cases).where(cases.c.case_id == e.aggregate.id))).one()
    rank = {"normal": 0, "high": 1, "emergency": 2}
    urgency = max(row.urgency, a.urgency, key=lambda u: rank.get(u, 0))
    detail = dict(row.detail)
    detail["reports"] = [
        *detail.get("reports", []),
        {"report_id": a.report_id, "received_at": a.received_at},
    ]
    concerns = list(dict.fromkeys([*row.concerns, *a.concerns]))
    await touch(conn, e, concerns=concerns, urgency=urgency, detail=detail)
    await _report_done(conn, a.report_id, a.child_id, e.aggregate.id)


@projection.on("casework", "CaseAssigned")
async def _assigned(conn: AsyncConnection, e: RecordedEvent) -> None:
    a = e.event
    assert isinstance(a, ev.CaseAssigned)
    await append_detail(
        conn,
        e,
        "assignments",
        {
            "worker_id": a.worker_id,
            "supervisor_id": a.supervisor_id,
            "missing_competencies": a.missing_competencies,
            "override_reason": a.override_reason,
        },
        worker_id=a.worker_id,
        supervisor_id=a.supervisor_id,
        competency_override=bool(a.missing_competencies),
    )


@projection.on("casework", "StageChanged")
async def _stage(conn: AsyncConnection, e: RecordedEvent) -> None:
    s = e.event
    assert isinstance(s, ev.StageChanged)
    await touch(
        conn,
        e,
        stage=s.to_stage,
        stage_due_at=as_datetime(s.due_at) if s.due_at else None,
        stage_entered_seq=e.seq,
        overdue_flagged=False,
    )


@projection.on("casework", "StageOverdue")
async def _overdue(conn: AsyncConnection, e: RecordedEvent) -> None:
    await touch(conn, e, overdue_flagged=True)


@projection.on("casework", "AssessmentRecorded")
async def _assessed(conn: AsyncConnection, e: RecordedEvent) -> None:
    a = e.event
    assert isinstance(a, ev.AssessmentRecorded)
    await append_detail(conn, e, "assessments", a.model_dump(mode="json"), risk_level=a.risk_level)


@projection.on("casework", "BestInterestsDetermined")
async def _bid(conn: AsyncConnection, e: RecordedEvent) -> None:
    await append_detail(conn, e, "determinations", e.event.model_dump(mode="json"))


@projection.on("casework", "PlanGoalAdded")
async def _goal(conn: AsyncConnection, e: RecordedEvent) -> None:
    await append_detail(conn, e, "goals", e.event.model_dump(mode="json"))


@projection.on("casework", "PlanActionAdded")
async def _action(conn: AsyncConnection, e: RecordedEvent) -> None:
    a = e.event
    assert isinstance(a, ev.PlanActionAdded)
    await conn.execute(
        insert(actions)
        .values(case_id=e.aggregate.id, seq=e.seq, **a.model_dump())
        .on_conflict_do_nothing()
    )
    await touch(conn, e)


@projection.on("casework", "ClosureRequested")
async def _closure_requested(conn: AsyncConnection, e: RecordedEvent) -> None:
    c = e.event
    assert isinstance(c, ev.ClosureRequested)
    detail = await case_detail(conn, e.aggregate.id)
    detail["closure_request"] = {"reason": c.reason, "note": c.note, "by": e.actor.user}
    await touch(conn, e, status="closure_requested", detail=detail)


@projection.on("casework", "ClosureRejected")
async def _closure_rejected(conn: AsyncConnection, e: RecordedEvent) -> None:
    detail = await case_detail(conn, e.aggregate.id)
    detail["closure_request"] = None
    await touch(conn, e, status="open", detail=detail)


@projection.on("casework", "CaseClosed")
async def _closed(conn: AsyncConnection, e: RecordedEvent) -> None:
    c = e.event
    assert isinstance(c, ev.CaseClosed)
    detail = await case_detail(conn, e.aggregate.id)
    detail["closure_request"] = None
    await touch(
        conn,
        e,
        status="closed",
        stage="closure",
        stage_due_at=None,
        next_visit_due=None,
        visit_due_at=None,
        visit_overdue_flagged=False,
        closure_reason=c.reason,
        closed_at=as_datetime(e.time),
        detail=detail,
    )


@projection.on("casework", "CaseReopened")
async def _reopened(conn: AsyncConnection, e: RecordedEvent) -> None:
    r = e.event
    assert isinstance(r, ev.CaseReopened)
    await touch(
        conn,
        e,
        status="open",
        stage="initial_assessment",
        stage_due_at=as_datetime(r.due_at),
        stage_entered_seq=e.seq,
        overdue_flagged=False,
        closure_reason=None,
        closed_at=None,
    )


# The follow-up, referral and child-correction handlers register on ``projection`` when their
# modules run. Imported here rather than in app.py so that whoever imports this module (a
# projector, a rebuild, a test) gets the whole projection, including its subscription to the
# referral stream; the cycle is safe as those modules need only what is defined above.
from services.casework import (  # noqa: E402, F401
    projections_children,
    projections_followup,
    projections_referrals,
)
