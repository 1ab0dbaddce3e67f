"""Reports: register, screen, amend, list, read."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from sqlalchemy import and_, or_, select

from contracts.intake import (
    ChildRecorded,
    ReportAccepted,
    ReportedChild,
    Reporter,
    ReportRegistered,
)
from services.intake.app import recording
from services.intake.app import reports as report_commands
from services.intake.domain import ReportState, children_of, default_urgency, iso
from services.intake.domain.routing import Receiver, choose_receiver
from services.intake.read import reports
from services.intake.read.directory import known_agency
from services.intake.web.common import ID_PATTERN, not_found, runtime_of, suggestion_view
from services.intake.web.permissions import permissions
from services.intake.web.schemas import (
    AmendmentIn,
    AmendmentOut,
    ChildRecordedOut,
    ReportCreatedOut,
    ReportIn,
    ReportOut,
    ReportPageOut,
    ReportSummaryOut,
    ScreeningIn,
    ScreeningOut,
    SuggestionOut,
)
from services.intake.web.scope import reports_visible_to
from shared.access import sees_agency
from shared.auth import Principal, Role
from shared.command_http import actor_of, command_key, new_aggregate_id, seen, tag
from shared.http import ApiError
from shared.i18n import Message
from shared.ids import derived_id
from shared.loops import raise_if_cancelling
from shared.pagination import fetch_page
from shared.reference import codes
from shared.service import Runtime
from shared.validation import QueryMoment, check_commune

log = logging.getLogger(__name__)
router = APIRouter(prefix="/reports", tags=["reports"])
ReportId = Annotated[str, Path(pattern=ID_PATTERN)]
Status = Literal["received", "protection_concern", "not_a_concern", "redirect", "more_information"]
# Only people who weigh the risk see who is accused (restricted field).
SEES_PERPETRATOR = (Role.screener, Role.supervisor, Role.auditor)


def _child(child_id: str, c: Any) -> ReportedChild:
    return ReportedChild(
        child_id=child_id,
        unidentified=c.unidentified,
        name=c.name,
        alias=c.alias,
        sex=c.sex,
        date_of_birth=c.date_of_birth.isoformat() if c.date_of_birth else None,
        age_years=c.age_years,
        age_min=c.age_range.min if c.age_range else None,
        age_max=c.age_range.max if c.age_range else None,
        documented=c.documented,
        school_status=c.school_status,
        vulnerabilities=c.vulnerabilities,
        whereabouts=c.whereabouts,
    )


@router.post("", status_code=201)
async def register_report(
    body: ReportIn,
    request: Request,
    response: Response,
    principal: Annotated[Principal, Depends(permissions.require("report.create"))],
) -> ReportCreatedOut:
    rt = runtime_of(request)
    key = command_key(request, principal)
    # A retry with the same key names the same report and children, so it stores nothing new.
    report_id = new_aggregate_id(key, "intake.report")
    event = ReportRegistered(
        report_id=report_id,
        agency=principal.agency,
        unit=principal.unit,
        channel=body.channel,
        received_at=iso(body.received_at.astimezone(UTC)),
        commune=body.commune,
        concerns=body.concerns,
        children=[
            _child(derived_id(report_id, "child", str(i)), c) for i, c in enumerate(body.children)
        ],
        reporter=Reporter(**body.reporter.model_dump()) if body.reporter else None,
        alleged_perpetrator=body.alleged_perpetrator,
        narrative=body.narrative,
        immediate_danger=body.immediate_danger,
        urgency=default_urgency(body.urgency, body.immediate_danger),
    )
    # Read-your-writes is waited for once, after the children's records (later in the same
    # stream, so their wait covers the report's): one projector round instead of two.
    outcome = await report_commands.register(
        rt, event, actor=actor_of(principal), key=key, read_your_writes=False
    )
    registered = outcome.events[0]
    stored = registered.event
    assert isinstance(stored, ReportRegistered)
    # From here the children are owed their records: recorded now to answer with suggested
    # duplicates, or by the child-recorder inbox if this request dies first.
    reporter = recording.Reporter.of(stored)  # its read model may not show the report yet
    children = [
        await _record(rt, principal, child, registered.id, reporter)
        for child in children_of(stored)
    ]
    await rt.settle(outcome.aggregate.stream, outcome.version)
    tag(response, outcome.version)
    return ReportCreatedOut(
        report_id=report_id,
        version=outcome.version,
        status="received",
        urgency=stored.urgency,
        children=children,
    )


async def _record(
    rt: Runtime,
    principal: Principal,
    child: ChildRecorded,
    cause: str,
    reporter: recording.Reporter,
) -> ChildRecordedOut:
    try:
        done = await recording.record_child(
            rt,
            child,
            actor=actor_of(principal),
            causation_id=cause,
            writer="request",
            reporter=reporter,
        )
    except Exception as exc:
        # The report is stored: answering 500 would invite a second report. The inbox writes
        # the record; the answer says it is still to come.
        raise_if_cancelling(exc)
        log.warning("child record left to the recorder: %s", type(exc).__name__)
        return ChildRecordedOut(child_id=child.child_id, recorded=False, suggested_duplicates=[])
    return ChildRecordedOut(
        child_id=done.child_id,
        recorded=True,
        suggested_duplicates=[SuggestionOut(**suggestion_view(s)) for s in done.suggestions],
    )


def _visible_to(principal: Principal) -> Callable[[ReportState], bool]:
    return lambda state: sees_agency(principal, str(state.data["agency"]))


@router.post("/{report_id}/screening")
async def screen_report(
    report_id: ReportId,
    body: ScreeningIn,
    request: Request,
    response: Response,
    principal: Annotated[Principal, Depends(permissions.require("report.screen"))],
) -> ScreeningOut:
    """Screen the report as the screener saw it (``If-Match``): a decision on a stale view is
    refused with the current version (409). A protection concern opens the case at the
    receiving agency the screener names (default: their own)."""
    expect = seen(request)
    rt = runtime_of(request)
    receiver = await _receiver(rt, principal, body)
    outcome = await report_commands.screen(
        rt,
        report_id,
        decision=body.decision,
        urgency=body.urgency,
        rationale=body.rationale,
        redirect_to=body.redirect_to,
        agency=receiver.agency,
        unit=receiver.unit,
        expect=expect,
        actor=actor_of(principal),
        key=command_key(request, principal),
        visible=_visible_to(principal),
    )
    screened = outcome.events[0].event if outcome.events else None
    accepted = next((e.event for e in outcome.events if isinstance(e.event, ReportAccepted)), None)
    tag(response, outcome.version)
    return ScreeningOut(
        report_id=report_id,
        status=getattr(screened, "decision", body.decision),
        urgency=getattr(screened, "urgency", body.urgency),
        deadline=getattr(screened, "deadline", None),
        rescreen_by=getattr(screened, "rescreen_by", None),
        accepted=accepted is not None,
        receiving_agency=accepted.agency if accepted else None,
        receiving_unit=accepted.unit if accepted else None,
        version=outcome.version,
    )


async def _receiver(rt: Runtime, principal: Principal, body: ScreeningIn) -> Receiver:
    """The agency a case opens at: the one the screener named, checked against intake's copy
    of the directory, or the screener's own. Only a protection concern opens a case, so
    only then are the fields read."""
    if body.decision != "protection_concern":
        return Receiver(principal.agency, principal.unit)
    asked = body.receiving_agency or (principal.agency if body.receiving_unit else None)
    assert rt.engine is not None
    known = await known_agency(rt.engine, asked) if asked else None
    return choose_receiver(
        screener_agency=principal.agency,
        screener_unit=principal.unit,
        asked_agency=body.receiving_agency,
        asked_unit=body.receiving_unit,
        known=known,
    )


@router.post("/{report_id}/amendments")
async def amend_report(
    report_id: ReportId,
    body: AmendmentIn,
    request: Request,
    response: Response,
    principal: Annotated[Principal, Depends(permissions.require("report.amend"))],
) -> AmendmentOut:
    expect = seen(request)
    changes = body.changes.model_dump(mode="json", exclude_unset=True)
    if body.changes.received_at is not None:  # one spelling of an instant, as registered
        changes["received_at"] = iso(body.changes.received_at.astimezone(UTC))
    outcome = await report_commands.amend(
        runtime_of(request),
        report_id,
        changes=changes,
        reason=body.reason,
        expect=expect,
        actor=actor_of(principal),
        key=command_key(request, principal),
        visible=_visible_to(principal),
    )
    tag(response, outcome.version)
    amended = outcome.events[0].event if outcome.events else None
    return AmendmentOut(
        report_id=report_id, fields=getattr(amended, "fields", []), version=outcome.version
    )


def _summary(row: Any, now: datetime) -> dict[str, Any]:
    return {
        "report_id": row.report_id,
        "agency": row.agency,
        "channel": row.channel,
        "received_at": iso(row.received_at),
        "commune": row.commune,
        "concerns": list(row.concerns),
        "status": row.status,
        "urgency": row.urgency,
        "deadline": iso(row.deadline),
        "overdue": bool(row.overdue or (row.screened_at is None and row.deadline < now)),
        "within_deadline": row.within_deadline,
        "rescreen_by": iso(row.rescreen_by) if row.rescreen_by else None,
        "rescreen_overdue": bool(
            row.rescreen_overdue
            or (row.status == "more_information" and row.rescreen_by and row.rescreen_by < now)
        ),
        "immediate_danger": row.immediate_danger,
        "children_count": row.children_count,
        "version": row.version,
    }


def _bad_filter(field: str) -> ApiError:
    return ApiError(
        422,
        "invalid_filter",
        Message(en="Unknown value for this filter.", fr="Valeur inconnue pour ce filtre."),
        field=field,
    )


@router.get("")
async def list_reports(
    request: Request,
    principal: Annotated[Principal, Depends(permissions.require("report.list"))],
    status: Status | None = None,
    urgency: Literal["emergency", "high", "normal"] | None = None,
    overdue: bool | None = None,
    commune: str | None = Query(default=None, max_length=100),
    concern: str | None = Query(default=None, max_length=100),
    received_from: QueryMoment | None = None,
    received_to: QueryMoment | None = None,
    page: int = Query(default=1, ge=1, le=100_000),
    page_size: int = Query(default=50, ge=1, le=200),
) -> ReportPageOut:
    """No names here: a list identifies no child, so it is not an access record."""
    rt = runtime_of(request)
    now = rt.clock()
    where = [reports_visible_to(principal)]
    if status:
        where.append(reports.c.status == status)
    if urgency:
        where.append(reports.c.urgency == urgency)
    # Late: past the first screening deadline, or waiting for more information past the
    # re-screen deadline (flagged by the policy, or not yet).
    late = or_(
        reports.c.overdue.is_(True),
        and_(reports.c.screened_at.is_(None), reports.c.deadline < now),
        reports.c.rescreen_overdue.is_(True),
        and_(reports.c.status == "more_information", reports.c.rescreen_by < now),
    )
    if overdue is not None:
        where.append(late if overdue else ~late)
    if commune:
        try:
            check_commune(commune)
        except ValueError:
            raise _bad_filter("commune") from None
        where.append(reports.c.commune == commune)
    if concern:
        if concern not in codes().concerns:
            raise _bad_filter("concern")
        where.append(reports.c.concerns.contains([concern]))
    for name, moment in (("received_from", received_from), ("received_to", received_to)):
        if moment is not None and moment.tzinfo is None:
            raise _bad_filter(name)
    if received_from:
        where.append(reports.c.received_at >= received_from)
    if received_to:
        where.append(reports.c.received_at <= received_to)
    assert rt.engine is not None
    rows, total = await fetch_page(
        rt.engine,
        select(reports).where(*where),
        reports.c.received_at.desc(),
        reports.c.report_id,
        offset=(page - 1) * page_size,
        limit=page_size,
    )
    items = [ReportSummaryOut(**_summary(r, now)) for r in rows]
    return ReportPageOut(items=items, page=page, page_size=page_size, total=total)


@router.get("/{report_id}")
async def read_report(
    report_id: ReportId,
    request: Request,
    response: Response,
    principal: Annotated[Principal, Depends(permissions.require("report.read"))],
) -> ReportOut:
    """A report as it now reads: for its agency's intake roles, for every reader of the
    agency whose case holds it (case workers included), and for auditors. Who is alleged to
    have caused harm shows only to screeners, supervisors and auditors. Its ``ETag`` is the
    version a command on it sends in ``If-Match``."""
    rt = runtime_of(request)
    assert rt.engine is not None and rt.access_log is not None
    async with rt.engine.connect() as conn:
        row = (
            await conn.execute(
                select(reports, reports_visible_to(principal).label("visible")).where(
                    reports.c.report_id == report_id
                )
            )
        ).first()
    if row is None:
        raise not_found()
    if not row.visible:
        # Answered as missing, and on the record: someone asked for a report not theirs.
        await rt.access_log.record(
            principal, "report", [report_id], purpose="intake.report.read", outcome="refused"
        )
        raise not_found()
    document = dict(row.document)
    if not principal.has(*SEES_PERPETRATOR) and document.get("alleged_perpetrator"):
        document["alleged_perpetrator"] = "[restricted]"
    # Names, birth dates and the narrative are about to be shown: record who read them.
    await rt.access_log.record(principal, "report", [report_id], purpose="intake.report.read")
    tag(response, row.version)
    return ReportOut(**_summary(row, rt.clock()), document=document)
