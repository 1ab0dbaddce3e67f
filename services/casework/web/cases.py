"""Commands on a case over HTTP.

Every write names the case version the client last saw in ``If-Match`` (the ``version`` /
``ETag`` of a read). The command is decided on the case *as the client saw it* and appended
after exactly that version: a stale version is a 409 with the current one, and a retry with
the same ``Idempotency-Key`` finds its own earlier events and answers as the first time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from services.casework import domain as d
from services.casework.app import cases
from services.casework.read.directory import competencies, staff
from services.casework.web.permissions import require
from services.casework.web.schemas import ReferralRequestBody
from shared.access import sees_agency
from shared.auth import Principal, Role
from shared.command_http import command_key, new_aggregate_id, seen, tag
from shared.commands import Outcome
from shared.envelope import Actor
from shared.service import Runtime
from shared.validation import JsonBody

router = APIRouter(prefix="/cases", tags=["cases"])

CaseId = Annotated[str, Path(pattern=r"^[A-Za-z0-9-]{1,64}$")]
Text = Annotated[str, Field(min_length=1, max_length=4000)]
Short = Annotated[str, Field(min_length=1, max_length=200)]


class Body(JsonBody):
    model_config = ConfigDict(extra="forbid")


class AssignBody(Body):
    worker_id: Short
    supervisor_id: Short
    override_reason: str | None = Field(default=None, max_length=2000)


class StageBody(Body):
    to: Literal[d.STAGES]  # type: ignore[valid-type]


class ViewsBody(Body):
    child_views: str | None = Field(default=None, max_length=4000)
    views_not_heard_reason: Literal["age", "capacity", "safety", "other"] | None = None
    views_not_heard_detail: str | None = Field(default=None, max_length=2000)

    def views(self) -> d.ChildViews:
        return d.ChildViews(
            self.child_views, self.views_not_heard_reason, self.views_not_heard_detail
        )


class AssessmentBody(ViewsBody):
    kind: Literal["initial", "comprehensive"]
    needs: list[Short] = Field(default_factory=list, max_length=50)
    risk_level: Literal["low", "medium", "high"]
    summary: str | None = Field(default=None, max_length=4000)


class BestInterestsBody(ViewsBody):
    decision_kind: Literal[d.DECISION_KINDS]  # type: ignore[valid-type]
    decision: Text
    options_considered: list[Text] = Field(min_length=1, max_length=20)
    participants: list[Short] = Field(min_length=1, max_length=30)


class GoalBody(Body):
    text: Text


class ActionBody(Body):
    goal_id: Short
    text: Text
    responsible_agency: Short
    responsible_unit: str | None = Field(default=None, max_length=200)
    service_kind: Short
    due_on: date
    referral_id: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9-]{1,64}$",
        description="The referral made through referral's API that carries out this action",
    )
    referral_request: ReferralRequestBody | None = Field(
        default=None,
        description="For a unit of another agency: ask referral to make the referral "
        "(the action then shows its status: requested, made, accepted... or refused)",
    )


class ClosureBody(Body):
    reason: Short
    note: str | None = Field(default=None, max_length=2000)


class ClosureDecisionBody(Body):
    approve: bool
    note: str | None = Field(default=None, max_length=2000)


class ReopenBody(Body):
    reason: Text


def now_of(request: Request) -> datetime:
    """The service's clock (tests give their own)."""
    now: datetime = request.app.state.runtime.clock()
    return now


def actor_of(principal: Principal) -> Actor:
    role = next((r for r in (Role.supervisor, Role.case_worker) if principal.has(r)), None)
    return Actor(user=principal.user, agency=principal.agency, role=role or principal.primary_role)


def new_child_id(request: Request, principal: Principal, case_id: str, what: str) -> str:
    # Derived from the idempotency key so a retry names the same goal or assessment.
    return new_aggregate_id(command_key(request, principal), "casework", case_id, what)


ID_FIELDS = (
    "goal_id",
    "action_id",
    "assessment_id",
    "determination_id",
    "service_id",
    "visit_id",
    "note_id",
    "transfer_id",
    "referral_id",
)


class CaseCommandOut(BaseModel):
    """What a command did to a case. ``version`` (also the ``ETag``) goes back in
    ``If-Match`` with the next command; the ids name what the command created."""

    case_id: str
    version: int
    events: list[str] = Field(description="The events stored, by name; none if nothing changed")
    duplicate: bool = Field(
        default=False, description="A retry of a command already stored: nothing new"
    )
    goal_id: str | None = None
    action_id: str | None = None
    assessment_id: str | None = None
    determination_id: str | None = None
    service_id: str | None = None
    visit_id: str | None = None
    note_id: str | None = None
    transfer_id: str | None = None
    referral_id: str | None = None


async def append_command(
    request: Request,
    principal: Principal,
    case_id: str,
    command: d.Command,
    *,
    may_act: Callable[[d.CaseState], bool] | None = None,
) -> Outcome[d.CaseState]:
    """Decide ``command`` on the case as the client last saw it (``If-Match``) and append the
    events. ``may_act`` says who may act on the case as it stands now (default: its agency);
    another agency's case answers as a missing one: its existence is not theirs to know."""
    expect = seen(request)
    return await cases.run(
        request.app.state.runtime,
        case_id,
        command,
        expect=expect,
        actor=actor_of(principal),
        key=command_key(request, principal),
        visible=may_act or (lambda state: sees_agency(principal, state.agency)),
    )


async def execute(
    request: Request,
    response: Response,
    principal: Principal,
    case_id: str,
    command: d.Command,
    *,
    may_act: Callable[[d.CaseState], bool] | None = None,
) -> CaseCommandOut:
    """:func:`append_command`, answered with the case's new version and the events' ids."""
    outcome = await append_command(request, principal, case_id, command, may_act=may_act)
    ids: dict[str, str] = {}
    for r in outcome.events:
        for id_field in ID_FIELDS:
            if id_field in type(r.event).model_fields:
                ids[id_field] = getattr(r.event, id_field)
    tag(response, outcome.version)
    return CaseCommandOut(
        case_id=case_id,
        version=outcome.version,
        events=[r.event.name for r in outcome.events],
        duplicate=outcome.duplicate,
        **ids,
    )


@router.post("/{case_id}/assignment")
async def assign(
    case_id: CaseId,
    body: AssignBody,
    request: Request,
    response: Response,
    principal: Annotated[Principal, Depends(require("case.assign"))],
) -> CaseCommandOut:
    """Assign a worker and a supervisor; refused if the worker lacks a competency the case
    needs, unless a supervisor overrides with a reason."""
    runtime: Runtime = request.app.state.runtime
    assert runtime.engine is not None
    async with runtime.engine.connect() as conn:
        member = (
            await conn.execute(select(staff).where(staff.c.staff_id == body.worker_id))
        ).one_or_none()
        rows = await conn.execute(
            select(competencies.c.competency, competencies.c.level).where(
                competencies.c.staff_id == body.worker_id
            )
        )
        levels = {row.competency: row.level for row in rows}
    command = d.Assign(
        worker_id=body.worker_id,
        supervisor_id=body.supervisor_id,
        by=principal.user,
        by_supervisor=principal.has(Role.supervisor),
        worker_sector=member.sector if member else None,
        worker_agency=member.agency if member else None,
        worker_levels=levels,
        override_reason=body.override_reason,
    )
    return await execute(request, response, principal, case_id, command)


@router.post("/{case_id}/stage")
async def change_stage(
    case_id: CaseId,
    body: StageBody,
    request: Request,
    response: Response,
    principal: Annotated[Principal, Depends(require("case.stage"))],
) -> CaseCommandOut:
    """Move the case to its next stage; the new stage's due date follows the urgency."""
    return await execute(
        request, response, principal, case_id, d.ChangeStage(to=body.to, now=now_of(request))
    )


@router.post("/{case_id}/assessments")
async def record_assessment(
    case_id: CaseId,
    body: AssessmentBody,
    request: Request,
    response: Response,
    principal: Annotated[Principal, Depends(require("case.assess"))],
) -> CaseCommandOut:
    command = d.RecordAssessment(
        assessment_id=new_child_id(request, principal, case_id, "assessment"),
        kind=body.kind,
        needs=tuple(body.needs),
        risk_level=body.risk_level,
        child=body.views(),
        summary=body.summary,
    )
    return await execute(request, response, principal, case_id, command)


@router.post("/{case_id}/best-interests")
async def determine_best_interests(
    case_id: CaseId,
    body: BestInterestsBody,
    request: Request,
    response: Response,
    principal: Annotated[Principal, Depends(require("case.best_interests"))],
) -> CaseCommandOut:
    command = d.DetermineBestInterests(
        determination_id=new_child_id(request, principal, case_id, "determination"),
        decision_kind=body.decision_kind,
        decision=body.decision,
        options_considered=tuple(body.options_considered),
        participants=tuple(body.participants),
        child=body.views(),
    )
    return await execute(request, response, principal, case_id, command)


@router.post("/{case_id}/plan/goals")
async def add_goal(
    case_id: CaseId,
    body: GoalBody,
    request: Request,
    response: Response,
    principal: Annotated[Principal, Depends(require("case.plan"))],
) -> CaseCommandOut:
    goal_id = new_child_id(request, principal, case_id, "goal")
    return await execute(
        request, response, principal, case_id, d.AddGoal(goal_id=goal_id, text=body.text)
    )


@router.post("/{case_id}/plan/actions")
async def add_action(
    case_id: CaseId,
    body: ActionBody,
    request: Request,
    response: Response,
    principal: Annotated[Principal, Depends(require("case.plan"))],
) -> CaseCommandOut:
    """Add an action to a goal. An action for another agency either names a referral already
    made (``referral_id``) or carries a ``referral_request`` that referral answers."""
    asked = body.referral_request
    request_ = None
    if asked is not None:
        request_ = d.ReferralRequest(
            referral_id=new_child_id(request, principal, case_id, "referral"),
            to_unit=asked.to_unit,
            urgency=asked.urgency,
            reason=asked.reason,
            consent=asked.consent.consent(),
            shared_fields=tuple(dict.fromkeys(asked.shared_fields)),
        )
    command = d.AddAction(
        action_id=new_child_id(request, principal, case_id, "action"),
        goal_id=body.goal_id,
        text=body.text,
        responsible_agency=body.responsible_agency,
        responsible_unit=body.responsible_unit,
        service_kind=body.service_kind,
        due_on=body.due_on,
        referral_id=body.referral_id,
        request=request_,
    )
    return await execute(request, response, principal, case_id, command)


@router.post("/{case_id}/closure")
async def request_closure(
    case_id: CaseId,
    body: ClosureBody,
    request: Request,
    response: Response,
    principal: Annotated[Principal, Depends(require("case.close"))],
) -> CaseCommandOut:
    """Ask to close the case with a reason (see ``closure_reasons``); a supervisor decides."""
    command = d.RequestClosure(reason=body.reason, by=principal.user, note=body.note)
    return await execute(request, response, principal, case_id, command)


@router.post("/{case_id}/closure/decision")
async def decide_closure(
    case_id: CaseId,
    body: ClosureDecisionBody,
    request: Request,
    response: Response,
    principal: Annotated[Principal, Depends(require("case.approve_closure"))],
) -> CaseCommandOut:
    command = d.DecideClosure(
        approve=body.approve,
        by=principal.user,
        by_supervisor=principal.has(Role.supervisor),
        note=body.note,
    )
    return await execute(request, response, principal, case_id, command)


@router.post("/{case_id}/reopening")
async def reopen(
    case_id: CaseId,
    body: ReopenBody,
    request: Request,
    response: Response,
    principal: Annotated[Principal, Depends(require("case.reopen"))],
) -> CaseCommandOut:
    return await execute(
        request, response, principal, case_id, d.Reopen(reason=body.reason, now=now_of(request))
    )
