"""Commands on a case over HTTP.

Every write names the case version the client last saw in ``If-Match`` (the ``version`` /
``ETag`` of a read). The command is decided on the case *as the client saw it* and appended
after exactly that version: a stale version is a 409 with the current one, and a retry with
the same ``Idempotency-Key`` finds its own earlier events and answers as the first time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from services.casework import domain as d
from services.casework.app.policies import case_aggregate
from services.casework.config import load_rules
from services.casework.read.directory import competencies, staff
from services.casework.web.permissions import require
from services.casework.web.schemas import ReferralRequestBody
from shared.access import sees_agency
from shared.auth import Principal, Role
from shared.envelope import Actor
from shared.eventstore import AppendResult, ConcurrencyConflict
from shared.http import ApiError, idempotency_key
from shared.i18n import Message
from shared.ids import derived_id, new_id
from shared.service import Runtime

router = APIRouter(prefix="/cases", tags=["cases"])

CaseId = Annotated[str, Path(pattern=r"^[A-Za-z0-9-]{1,64}$")]
Text = Annotated[str, Field(min_length=1, max_length=4000)]
Short = Annotated[str, Field(min_length=1, max_length=200)]
NOT_FOUND = Message(en="No such case.", fr="Dossier introuvable.")


class Body(BaseModel):
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


def utc_now() -> datetime:
    return datetime.now(UTC)


def seen_version(request: Request) -> int:
    raw = request.headers.get("if-match")
    if raw is None:
        raise ApiError(
            428,
            "version_required",
            Message(
                en="Send the case version you last saw in the If-Match header.",
                fr="Indiquez dans l'en-tête If-Match la version du dossier que vous avez vue.",
            ),
            field="If-Match",
        )
    value = raw.strip().removeprefix("W/").strip('"')
    if not value.isdigit() or len(value) > 18:
        raise ApiError(
            422,
            "invalid_version",
            Message(en="The version must be a whole number.", fr="La version doit être un entier."),
            field="If-Match",
        )
    return int(value)


def actor_of(principal: Principal) -> Actor:
    role = next((r for r in (Role.supervisor, Role.case_worker) if principal.has(r)), None)
    return Actor(user=principal.user, agency=principal.agency, role=role or principal.primary_role)


def new_child_id(request: Request, case_id: str, what: str) -> str:
    # Derived from the idempotency key so a retry names the same goal or assessment.
    key = request.headers.get("idempotency-key")
    return derived_id("casework", case_id, key, what) if key else new_id()


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


async def append_command(
    request: Request,
    principal: Principal,
    case_id: str,
    command: d.Command,
    *,
    may_act: Callable[[d.CaseState], bool] | None = None,
) -> tuple[AppendResult | None, int]:
    """Decide ``command`` on the case as the client last saw it and append the events: the
    append (None when the command changes nothing) and the case's version.
    ``may_act`` says who may act on the case as it stands now (default: its agency)."""
    runtime: Runtime = request.app.state.runtime
    assert runtime.store is not None
    seen, key = seen_version(request), idempotency_key(request)
    aggregate = case_aggregate(runtime, case_id)
    recorded = await runtime.store.load(aggregate)
    # The case as it stands now says who owns it: a transfer may have moved it since.
    current = d.fold((r.event, r.actor.user) for r in recorded)
    allowed = may_act(current) if may_act else sees_agency(principal, current.agency)
    if not recorded or not allowed:
        # Another agency's case answers as a missing one: its existence is not theirs to know.
        raise ApiError(404, "case_not_found", NOT_FOUND)
    if seen not in {r.seq for r in recorded}:
        raise ConcurrencyConflict(aggregate, seen, recorded[-1].seq)
    state = d.fold((r.event, r.actor.user) for r in recorded if r.seq <= seen)
    events = d.decide(state, command, load_rules())  # a refusal is answered by the handler
    if not events:
        return None, recorded[-1].seq
    result = await runtime.commit(
        aggregate, seen, events, actor=actor_of(principal), idempotency_key=key
    )
    return result, result.head.seq


async def execute(
    request: Request,
    principal: Principal,
    case_id: str,
    command: d.Command,
    *,
    may_act: Callable[[d.CaseState], bool] | None = None,
) -> JSONResponse:
    """:func:`append_command`, answered with the case's new version and the events' ids."""
    result, version = await append_command(request, principal, case_id, command, may_act=may_act)
    if result is None:
        return JSONResponse({"case_id": case_id, "version": version, "events": []})
    body: dict[str, Any] = {
        "case_id": case_id,
        "version": version,
        "events": [r.event.name for r in result.events],
        "duplicate": result.duplicate,
    }
    for r in result.events:
        for id_field in ID_FIELDS:
            if id_field in type(r.event).model_fields:
                body[id_field] = getattr(r.event, id_field)
    return JSONResponse(body, headers={"ETag": f'"{version}"'})


@router.post("/{case_id}/assignment")
async def assign(
    case_id: CaseId,
    body: AssignBody,
    request: Request,
    principal: Annotated[Principal, Depends(require("case.assign"))],
) -> JSONResponse:
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
    return await execute(request, principal, case_id, command)


@router.post("/{case_id}/stage")
async def change_stage(
    case_id: CaseId,
    body: StageBody,
    request: Request,
    principal: Annotated[Principal, Depends(require("case.stage"))],
) -> JSONResponse:
    """Move the case to its next stage; the new stage's due date follows the urgency."""
    return await execute(request, principal, case_id, d.ChangeStage(to=body.to, now=utc_now()))


@router.post("/{case_id}/assessments")
async def record_assessment(
    case_id: CaseId,
    body: AssessmentBody,
    request: Request,
    principal: Annotated[Principal, Depends(require("case.assess"))],
) -> JSONResponse:
    command = d.RecordAssessment(
        assessment_id=new_child_id(request, case_id, "assessment"),
        kind=body.kind,
        needs=tuple(body.needs),
        risk_level=body.risk_level,
        child=body.views(),
        summary=body.summary,
    )
    return await execute(request, principal, case_id, command)


@router.post("/{case_id}/best-interests")
async def determine_best_interests(
    case_id: CaseId,
    body: BestInterestsBody,
    request: Request,
    principal: Annotated[Principal, Depends(require("case.best_interests"))],
) -> JSONResponse:
    command = d.DetermineBestInterests(
        determination_id=new_child_id(request, case_id, "determination"),
        decision_kind=body.decision_kind,
        decision=body.decision,
        options_considered=tuple(body.options_considered),
        participants=tuple(body.participants),
        child=body.views(),
    )
    return await execute(request, principal, case_id, command)


@router.post("/{case_id}/plan/goals")
async def add_goal(
    case_id: CaseId,
    body: GoalBody,
    request: Request,
    principal: Annotated[Principal, Depends(require("case.plan"))],
) -> JSONResponse:
    goal_id = new_child_id(request, case_id, "goal")
    return await execute(request, principal, case_id, d.AddGoal(goal_id=goal_id, text=body.text))


@router.post("/{case_id}/plan/actions")
async def add_action(
    case_id: CaseId,
    body: ActionBody,
    request: Request,
    principal: Annotated[Principal, Depends(require("case.plan"))],
) -> JSONResponse:
    """Add an action to a goal. An action for another agency either names a referral already
    made (``referral_id``) or carries a ``referral_request`` that referral answers."""
    asked = body.referral_request
    request_ = None
    if asked is not None:
        request_ = d.ReferralRequest(
            referral_id=new_child_id(request, case_id, "referral"),
            to_unit=asked.to_unit,
            urgency=asked.urgency,
            reason=asked.reason,
            consent=asked.consent.consent(),
            shared_fields=tuple(dict.fromkeys(asked.shared_fields)),
        )
    command = d.AddAction(
        action_id=new_child_id(request, case_id, "action"),
        goal_id=body.goal_id,
        text=body.text,
        responsible_agency=body.responsible_agency,
        responsible_unit=body.responsible_unit,
        service_kind=body.service_kind,
        due_on=body.due_on,
        referral_id=body.referral_id,
        request=request_,
    )
    return await execute(request, principal, case_id, command)


@router.post("/{case_id}/closure")
async def request_closure(
    case_id: CaseId,
    body: ClosureBody,
    request: Request,
    principal: Annotated[Principal, Depends(require("case.close"))],
) -> JSONResponse:
    """Ask to close the case with a reason (see ``closure_reasons``); a supervisor decides."""
    command = d.RequestClosure(reason=body.reason, by=principal.user, note=body.note)
    return await execute(request, principal, case_id, command)


@router.post("/{case_id}/closure/decision")
async def decide_closure(
    case_id: CaseId,
    body: ClosureDecisionBody,
    request: Request,
    principal: Annotated[Principal, Depends(require("case.approve_closure"))],
) -> JSONResponse:
    command = d.DecideClosure(
        approve=body.approve,
        by=principal.user,
        by_supervisor=principal.has(Role.supervisor),
        note=body.note,
    )
    return await execute(request, principal, case_id, command)


@router.post("/{case_id}/reopening")
async def reopen(
    case_id: CaseId,
    body: ReopenBody,
    request: Request,
    principal: Annotated[Principal, Depends(require("case.reopen"))],
) -> JSONResponse:
    return await execute(request, principal, case_id, d.Reopen(reason=body.reason, now=utc_now()))
