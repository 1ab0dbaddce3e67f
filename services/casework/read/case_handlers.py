"""The handlers of casework's read model for a case's workflow, from the accepted report
to closure: they register on the projection of ``tables.py``."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts import casework as ev
from contracts.intake import ReportAccepted
from services.casework.read.tables import (
    actions,
    append_detail,
    as_datetime,
    case_detail,
    case_reports,
    cases,
    pending,
    projection,
    touch,
)
from shared.causation import correlation_of
from shared.recorded import RecordedEvent

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
                traceparent=e.envelope.get("traceparent"),
                event_id=e.id,
                correlation_id=correlation_of(e),
                site=e.aggregate.site,
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
            site=e.aggregate.site,
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


# -- site transfer (decision 0030) -----------------------------------------------------------


@projection.on("casework", "CaseReleasedToSite")
async def _released_to_site(conn: AsyncConnection, e: RecordedEvent) -> None:
    r = e.event
    assert isinstance(r, ev.CaseReleasedToSite)
    item = {"from_site": e.aggregate.site, "to_site": r.to_site, "event": "released"}
    await append_detail(conn, e, "site_transfers", item, released_to=r.to_site)


@projection.on("casework", "CaseTakenOverFromSite")
async def _taken_over_from_site(conn: AsyncConnection, e: RecordedEvent) -> None:
    t = e.event
    assert isinstance(t, ev.CaseTakenOverFromSite)
    # The case is changed at the receiving site from now on: its sweeps flag it, its read
    # names it.
    item = {"from_site": t.from_site, "to_site": e.aggregate.site, "event": "taken_over"}
    await append_detail(conn, e, "site_transfers", item, site=e.aggregate.site, released_to=None)
