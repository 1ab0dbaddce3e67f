"""The child corrector: casework's ``ChildDetailsReported`` answered exactly once, applied as
intake's ``ChildDetailsCorrected`` or refused with ``ChildCorrectionRefused`` (decision 0006).

A case worker who visits the child learns what the record got wrong; intake owns the record.
The projection keeps each request as a pending correction; this loop, on every instance at
once, applies those whose child record exists (a child casework identified may still be
waiting for its record: the correction waits with it).

Exactly once: the append names the casework event as its causation and derives its
idempotency key from it, and the child's log is read before each attempt, so a request
already answered (by another instance, or by this one before a crash) is recognised there
rather than trusted to the server's duplicate window. The append expects the child's
current version: a correction an intake officer made meanwhile is a conflict, and the loop
decides again on the record as it now reads.

A request intake's rules refuse is answered too, with ``ChildCorrectionRefused`` on the child
record, under the same exactly-once rules (its own idempotency key, the request as
causation): casework shows the worker why. It happens when an intake officer made the same
change meanwhile (``nothing_changed``), or when an older or faulty writer sent values the
rules do not accept. Refusals are logged by the request's id and the code only: the values
may name the child, and the refusal carries none of them."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import ColumnElement, func, select

from contracts.intake import ChildCorrectionRefused
from services.intake.app import recording
from services.intake.app.aggregates import aggregate
from services.intake.domain import (
    ChildState,
    CorrectableChildIn,
    CorrectChild,
    child_state,
    decide_child,
)
from services.intake.read import children, pending_corrections
from shared.causation import caused_by
from shared.domain import DomainError
from shared.envelope import Actor
from shared.events import DomainEvent
from shared.eventstore import ConcurrencyConflict, EventStoreError
from shared.i18n import Message
from shared.loops import raise_if_cancelling, repeat
from shared.service import Runtime
from shared.telemetry import continue_trace

log = logging.getLogger(__name__)
ATTEMPTS = 3
# A refusal is intake's decision; the correction itself stays the worker's.
REFUSER = Actor.system("intake.child-corrector")
INVALID_CHANGES = Message(
    en="The correction names a field intake does not correct, or a value it does not accept.",
    fr="La correction nomme un champ que l'accueil ne corrige pas, ou une valeur qu'il "
    "n'accepte pas.",
)


def correction_key(request_id: str) -> str:
    return f"casework-correction:{request_id}"


def refusal_key(request_id: str) -> str:
    return f"casework-correction-refused:{request_id}"


def _names(history: ColumnElement[Any], request_id: ColumnElement[Any]) -> ColumnElement[bool]:
    """Whether a JSONB list of a child's answers has an entry for the request."""
    return history.contains(
        func.jsonb_build_array(func.jsonb_build_object("request_id", request_id))
    )


@dataclass(frozen=True)
class Answer:
    events: list[DomainEvent]
    actor: Actor
    key: str
    refusal: str | None = None  # the code, if the answer is a refusal


async def apply_reported_corrections(runtime: Runtime, limit: int = 200) -> int:
    """One pass: answers the corrections casework reported whose child record exists here,
    applied or refused; returns how many answers this pass wrote (not those another instance
    got to first)."""
    assert runtime.engine is not None
    owed = pending_corrections.c
    answered = _names(children.c.corrections, owed.request_id) | _names(
        children.c.refusals, owed.request_id
    )
    async with runtime.engine.connect() as conn:
        rows = (
            await conn.execute(
                select(pending_corrections)
                # The child record must exist: until intake records the child, wait.
                .join(children, children.c.child_id == owed.child_id)
                .where(
                    # Another site's case is that site's intake to answer.
                    owed.site == runtime.settings.site,
                    ~answered,
                )
                .order_by(owed.requested_at, owed.request_id)
                .limit(limit)
            )
        ).all()
    written = 0
    for row in rows:
        try:
            with continue_trace("intake.child-corrector", row._mapping):
                written += await apply_one(runtime, row)
        except Exception as exc:
            # One correction that cannot be applied now must not hold up the others.
            raise_if_cancelling(exc)
            log.warning(
                "child corrector: request %s skipped this turn: %s",
                row.request_id,
                type(exc).__name__,
            )
    return written


async def apply_one(runtime: Runtime, row: Any) -> bool:
    """Answer one reported correction; True if this call stored the answer."""
    assert runtime.store is not None
    agg = aggregate(runtime, "child", row.child_id)
    for attempt in range(ATTEMPTS):
        recorded = await runtime.store.load(agg)
        if not recorded:
            return False  # not recorded yet here: the next pass looks again
        if any(r.envelope.get("causationid") == row.request_id for r in recorded):
            return False  # answered already, by another instance or an earlier attempt
        answer = await _decide(runtime, child_state([r.event for r in recorded]), row)
        try:
            with caused_by(row.request_id, row.correlation_id):
                result = await runtime.commit(
                    agg,
                    recorded[-1].seq,
                    answer.events,
                    actor=answer.actor,
                    idempotency_key=answer.key,
                )
        except ConcurrencyConflict:
            continue  # the record moved on (or another instance answered): look again
        except EventStoreError:
            # A refused batch stores nothing (two instances sending the same one at once);
            # the log says on the next turn whether another got through.
            if attempt + 1 == ATTEMPTS:
                raise
            await asyncio.sleep(random.uniform(0.01, 0.1))
            continue
        if answer.refusal and not result.duplicate:
            # The id and the code only: the values may name the child.
            log.warning(
                "child corrector: request %s refused by intake (%s)", row.request_id, answer.refusal
            )
        return not result.duplicate
    return False  # still moving: the next pass tries again


async def _decide(runtime: Runtime, state: ChildState, row: Any) -> Answer:
    """The correction as the record now reads, or the refusal with the rules' reason."""
    try:
        changes = CorrectableChildIn.model_validate(row.changes).record_changes()
        found = await recording.correction_matches(runtime, state, changes)
        events = decide_child(state, CorrectChild(changes, row.reason, found))
    except ValidationError:
        # pydantic's errors quote the values: only that they were invalid goes further.
        return _refusal(row, "invalid_changes", INVALID_CHANGES)
    except DomainError as refused:
        return _refusal(row, refused.code, refused.message)
    return Answer(events, Actor.model_validate(row.actor), correction_key(row.request_id))


def _refusal(row: Any, code: str, reason: Message) -> Answer:
    refused = ChildCorrectionRefused(
        child_id=row.child_id,
        request_id=row.request_id,
        case_id=row.case_id,
        code=code,
        reason_en=reason.en,
        reason_fr=reason.fr,
    )
    return Answer([refused], REFUSER, refusal_key(row.request_id), refusal=code)


def child_corrector_every(interval_s: float) -> Callable[[Runtime], Coroutine[Any, Any, None]]:
    async def child_corrector(runtime: Runtime) -> None:
        async def one_pass() -> None:
            written = await apply_reported_corrections(runtime)
            if written:
                log.info("child corrector: %d correction(s) answered", written)

        await repeat(one_pass, interval_s=interval_s, label="child corrector")

    return child_corrector
