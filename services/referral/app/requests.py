"""Referrals casework asks for from case plans: a process manager (decision 0006).

Casework appends ``ReferralRequested`` on its case, naming the referral id. The case-owners
projection records it as pending; this loop answers each with ``ReferralMade`` (and the
shared details) under exactly that id, or with ``ReferralRequestRefused`` and the reason in
French and English. The rules are the HTTP API's, through the same function
(:func:`services.referral.app.referring.referral_events`), after the same body validation.

Exactly once, on any number of instances and across crashes: the answer is appended on the
new referral aggregate with expected version 0 and an idempotency key derived from the
referral id, so a second instance (or this one again after a crash between appending and
seeing its row answered) finds the aggregate taken, and records nothing.

Only requests from this instance's site are answered here: a regional office's casework is
answered by that office's referral service, which owns the referral aggregate."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import exists, select

from contracts.casework import CaseOpened, ReferralRequested, ReportAttachedToCase
from services.referral.app.referring import ReferBody, referral_events
from services.referral.config import ReferralConfig
from services.referral.domain import RefuseRequest, decide
from services.referral.read.cases import PENDING, referral_requests
from services.referral.read.projections import referrals
from shared.domain import DomainError
from shared.envelope import Actor, Aggregate
from shared.events import DomainEvent
from shared.eventstore import ConcurrencyConflict
from shared.i18n import Message, validation_reason
from shared.loops import raise_if_cancelling, repeat
from shared.recorded import PoisonEvent, decode
from shared.reference import codes
from shared.service import Runtime
from shared.telemetry import continue_trace

log = logging.getLogger(__name__)

ANSWERER = Actor.system("referral-requests")
# Details referral can read from the case's own events; a contact is never in them.
FROM_THE_CASE = frozenset({"child_age_band", "child_sex", "concerns"})


async def answer_pending_once(runtime: Runtime, config: ReferralConfig, limit: int = 100) -> int:
    """Answer this site's pending requests; returns how many events this instance appended."""
    assert runtime.engine is not None
    async with runtime.engine.connect() as conn:
        rows = (
            await conn.execute(
                select(referral_requests)
                .where(referral_requests.c.status == PENDING)
                .where(referral_requests.c.site == runtime.settings.site)
                # Answered already, and the requests table has not caught up (the two streams
                # are applied independently).
                .where(~exists().where(referrals.c.referral_id == referral_requests.c.referral_id))
                .order_by(referral_requests.c.seq)
                .limit(limit)
            )
        ).all()
    written = 0
    for row in rows:
        try:
            with continue_trace("referral.request-answerer", row._mapping):
                written += await answer(runtime, config, row)
        except ConcurrencyConflict:
            continue  # answered by another instance (or before a crash): nothing to add
        except Exception as exc:
            # One request that cannot be answered now (NATS away) must not hold up the others.
            raise_if_cancelling(exc)
            log.warning("referral requests: one skipped this turn: %s", type(exc).__name__)
    return written


async def answer(runtime: Runtime, config: ReferralConfig, row: Any) -> int:
    """Append the answer to one request row; 0 if it was already answered."""
    request = ReferralRequested.model_validate(row.request)
    events = await decide_request(runtime, config, row.site, row.case_id, request)
    result = await runtime.commit(
        Aggregate("referral", runtime.settings.site, "referral", request.referral_id),
        0,
        events,
        actor=_requester(row.requested_by),
        idempotency_key=f"request:{request.referral_id}",
        correlation_id=row.correlation_id,
        causation_id=row.event_id,
    )
    return 0 if result.duplicate else len(events)


def _requester(stored: Any) -> Actor:
    # The worker who asked, so the referral shows who made it; the causation id records
    # that referral made it for them.
    try:
        return Actor.model_validate(stored)
    except ValidationError:
        return ANSWERER


async def decide_request(
    runtime: Runtime, config: ReferralConfig, site: str, case_id: str, request: ReferralRequested
) -> list[DomainEvent]:
    """The referral casework asked for, or its refusal with the reason."""
    assert runtime.engine is not None

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
                "details": await case_details(runtime, site, case_id, request.shared_fields),
            }
        )
    except ValidationError as exc:
        return refused("invalid_request", _reasons(exc))
    try:
        return await referral_events(
            runtime.engine,
            config,
            body,
            referral_id=request.referral_id,
            from_agency=request.from_agency,
        )
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
    runtime: Runtime, site: str, case_id: str, shared_fields: list[str]
) -> dict[str, Any]:
    """The values of the shared fields referral can read from the case's own events (sex,
    age band, concerns); anything else it cannot know stays unset. Only what the worker chose
    to share is read, and only valid codes are kept: a value casework recorded in another
    form must not make the request fail."""
    wanted = FROM_THE_CASE & set(shared_fields)
    if not wanted:
        return {}
    assert runtime.store is not None
    case = Aggregate("casework", site, "case", case_id)
    facts: dict[str, Any] = {}
    concerns: list[str] = []
    for name in ("CaseOpened", "ReportAttachedToCase"):
        stored = await runtime.store.read_subject(case.stream, case.subject(name), 1)
        for seq, subject, msg in stored:
            try:
                event = decode(msg.data or b"", stream=case.stream, seq=seq, subject=subject).event
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


@dataclass
class RequestPolicy:
    config: ReferralConfig | None = None  # None: from the runtime's settings

    async def loop(self, runtime: Runtime) -> None:
        config = self.config or ReferralConfig.from_settings(runtime.settings)

        async def one_turn() -> None:
            await answer_pending_once(runtime, config)

        await repeat(one_turn, interval_s=config.requests_interval_s, label="referral requests")
