"""Referrals casework asks for from case plans: an inbox (decision 0006, ``shared.process``).

Casework appends ``ReferralRequested`` on its case, naming the referral id. The case-owners
projection records it as pending; this inbox answers each with ``ReferralMade`` (and the
shared details) under exactly that id, or with ``ReferralRequestRefused`` and the reason in
French and English. The rules are the HTTP API's, through the same function
(:func:`services.referral.app.referring.make_command`), after the same body validation.

Exactly once, on any number of instances and across crashes: the answer is appended on the
new referral aggregate with expected version 0 and an idempotency key derived from the
referral id, so a second instance (or this one again after a crash between appending and
seeing its row answered) finds the aggregate taken, and records nothing.

Only requests from this instance's site are answered here: a regional office's casework is
answered by that office's referral service, which owns the referral aggregate."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import ValidationError
from sqlalchemy import exists, select

from contracts.casework import CaseOpened, ReferralRequested, ReportAttachedToCase
from services.referral.app.aggregates import REFERRAL
from services.referral.app.referring import ReferBody, make_command
from services.referral.config import ReferralConfig
from services.referral.domain import Referral, RefuseRequest, decide
from services.referral.read.cases import PENDING, referral_requests
from services.referral.read.projections import referrals
from shared.commands import Expect
from shared.domain import DomainError
from shared.envelope import Actor, Aggregate
from shared.events import DomainEvent
from shared.i18n import Message, validation_reason
from shared.process import Inbox, Ports, Reaction
from shared.recorded import PoisonEvent, decode
from shared.reference import codes

log = logging.getLogger(__name__)

ANSWERER = Actor.system("referral-requests")
# Details referral can read from the case's own events; a contact is never in them.
FROM_THE_CASE = frozenset({"child_age_band", "child_sex", "concerns"})


async def _pending(ports: Ports, limit: int) -> Sequence[Any]:
    """This site's pending requests, not answered yet."""
    assert ports.engine is not None
    async with ports.engine.connect() as conn:
        return (
            await conn.execute(
                select(referral_requests)
                .where(referral_requests.c.status == PENDING)
                .where(referral_requests.c.site == ports.settings.site)
                # Answered already, and the requests table has not caught up (the two streams
                # are applied independently).
                .where(~exists().where(referrals.c.referral_id == referral_requests.c.referral_id))
                .order_by(referral_requests.c.seq)
                .limit(limit)
            )
        ).all()


def request_answerer(
    config: Callable[[Ports], ReferralConfig], interval_s: float = 1.0
) -> Inbox[Any]:
    """Answers each pending request: the referral casework asked for, or its refusal."""

    async def react(ports: Ports, row: Any) -> Reaction[Referral | None]:
        request = ReferralRequested.model_validate(row.request)
        events = await decide_request(ports, config(ports), row.site, row.case_id, request)
        return Reaction(
            kind=REFERRAL,
            aggregate_id=request.referral_id,
            decide=lambda _state: events,
            key=f"request:{request.referral_id}",
            expect=Expect.new(),
            actor=_requester(row.requested_by),
            causation_id=row.event_id,
            correlation_id=row.correlation_id,
        )

    return Inbox(
        name="referral requests",
        pending=_pending,
        react=react,
        interval_s=interval_s,
        reaction="referral.request-answerer",
    )


def _requester(stored: Any) -> Actor:
    # The worker who asked, so the referral shows who made it; the causation id records
    # that referral made it for them.
    try:
        return Actor.model_validate(stored)
    except ValidationError:
        return ANSWERER


async def decide_request(
    ports: Ports, config: ReferralConfig, site: str, case_id: str, request: ReferralRequested
) -> list[DomainEvent]:
    """The referral casework asked for, or its refusal with the reason."""
    assert ports.engine is not None

    def refused(code: str, message: Message) -> list[DomainEvent]:
        return decide(
            None,
            RefuseRequest(request.referral_id, case_id, request.action_id, code, message),
        )

    try:
        body = ReferBody.model_validate(
            {
                "case_id": case_id,
                "child_id": request.child_id,
                "from_unit": request.from_unit,
                "to_unit": request.to_unit,
                "service_kind": request.service_kind,
                "urgency": request.urgency,
                "reason": request.reason,
                "consent": request.consent.model_dump(),
                "shared_fields": request.shared_fields,
                "details": await case_details(ports, site, case_id, request.shared_fields),
                "action_id": request.action_id,
            }
        )
    except ValidationError as exc:
        return refused("invalid_request", _reasons(exc))
    try:
        command = await make_command(
            ports.engine,
            config,
            body,
            referral_id=request.referral_id,
            from_agency=request.from_agency,
        )
        return decide(None, command)
    except DomainError as exc:
        if exc.field is None:
            return refused(exc.code, exc.message)
        return refused(exc.code, _on_field(exc.field, exc.message))


def _on_field(field: str, message: Message) -> Message:
    return Message(en=f"{field}: {message.en}", fr=f"{field} : {message.fr}")


def _reasons(exc: ValidationError) -> Message:
    reasons = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err.get("loc", ())) or "request"
        reasons.append(_on_field(field, validation_reason(err)))
    return Message(en=" ".join(r.en for r in reasons), fr=" ".join(r.fr for r in reasons))


async def case_details(
    ports: Ports, site: str, case_id: str, shared_fields: list[str]
) -> dict[str, Any]:
    """The values of the shared fields referral can read from the case's own events (sex,
    age band, concerns); anything else it cannot know stays unset. Only what the worker chose
    to share is read, and only valid codes are kept: a value casework recorded in another
    form must not make the request fail."""
    wanted = FROM_THE_CASE & set(shared_fields)
    if not wanted:
        return {}
    assert ports.commands is not None
    case = Aggregate("casework", site, "case", case_id)
    facts: dict[str, Any] = {}
    concerns: list[str] = []
    for name in ("CaseOpened", "ReportAttachedToCase"):
        for msg in await ports.commands.store.read_raw(case.stream, case.subject(name)):
            try:
                event = decode(msg.data, stream=case.stream, seq=msg.seq, subject=msg.subject).event
            except PoisonEvent:
                continue  # set aside by the projector too; its values stay unknown
            if isinstance(event, CaseOpened):
                facts["child_sex"] = event.sex
                facts["child_age_band"] = event.age_band
                concerns.extend(event.concerns)
            elif isinstance(event, ReportAttachedToCase):
                concerns.extend(event.concerns)
    bands = {code for code, _, _ in codes().age_bands} | {"unknown"}
    known = {
        "child_sex": facts.get("child_sex") in codes().sexes,
        "child_age_band": facts.get("child_age_band") in bands,
    }
    details = {k: v for k, v in facts.items() if k in wanted and known[k]}
    if "concerns" in wanted:
        valid = [c for c in dict.fromkeys(concerns) if c in codes().concerns]
        if valid:
            details["concerns"] = valid[:20]
    return details
