"""The child corrector: casework's ``ChildDetailsReported`` applied as intake's
``ChildDetailsCorrected``, exactly once (decision 0006).

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

A request intake's own rules refuse (they are casework's rules too, so it should not happen)
is marked unusable and logged by its event id only: its values may name the child."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Coroutine
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, select, update

from services.intake import recording
from services.intake.domain import CorrectChild, child_state, decide_child
from services.intake.projections import children, pending_corrections
from services.intake.schemas import CorrectableChildIn
from services.intake.web import aggregate
from shared.domain import DomainError
from shared.envelope import Actor
from shared.eventstore import ConcurrencyConflict, EventStoreError
from shared.loops import raise_if_cancelling, repeat
from shared.service import Runtime

log = logging.getLogger(__name__)
ATTEMPTS = 3


def correction_key(request_id: str) -> str:
    return f"casework-correction:{request_id}"


async def apply_reported_corrections(runtime: Runtime, limit: int = 200) -> int:
    """One pass: applies the corrections casework reported whose child record exists here;
    returns how many this pass wrote (not those another instance got to first)."""
    assert runtime.engine is not None
    owed = pending_corrections.c
    answered = children.c.corrections.contains(
        func.jsonb_build_array(func.jsonb_build_object("request_id", owed.request_id))
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
                    owed.status == "pending",
                    ~answered,
                )
                .order_by(owed.requested_at, owed.request_id)
                .limit(limit)
            )
        ).all()
    written = 0
    for row in rows:
        try:
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
    """Apply one reported correction; True if this call stored it."""
    assert runtime.store is not None
    agg = aggregate(runtime, "child", row.child_id)
    for attempt in range(ATTEMPTS):
        recorded = await runtime.store.load(agg)
        if not recorded:
            return False  # not recorded yet here: the next pass looks again
        if any(r.envelope.get("causationid") == row.request_id for r in recorded):
            return False  # answered already, by another instance or an earlier attempt
        state = child_state([r.event for r in recorded])
        try:
            changes = CorrectableChildIn.model_validate(row.changes).record_changes()
            found = await recording.correction_matches(runtime, state, changes)
            events = decide_child(state, CorrectChild(changes, row.reason, found))
        except ValidationError:
            await _unusable(runtime, row.request_id, "invalid_changes")
            return False
        except DomainError as refused:
            await _unusable(runtime, row.request_id, refused.code)
            return False
        try:
            result = await runtime.commit(
                agg,
                recorded[-1].seq,
                events,
                actor=Actor.model_validate(row.actor),
                idempotency_key=correction_key(row.request_id),
                causation_id=row.request_id,
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
        return not result.duplicate
    return False  # still moving: the next pass tries again


async def _unusable(runtime: Runtime, request_id: str, code: str) -> None:
    assert runtime.engine is not None
    async with runtime.engine.begin() as conn:
        await conn.execute(
            update(pending_corrections)
            .where(pending_corrections.c.request_id == request_id)
            .values(status="unusable", refusal=code[:60])
        )
    # The id and the code only: the values may name the child.
    log.warning("child corrector: request %s refused by intake (%s)", request_id, code)


def child_corrector_every(interval_s: float) -> Callable[[Runtime], Coroutine[Any, Any, None]]:
    async def child_corrector(runtime: Runtime) -> None:
        async def one_pass() -> None:
            written = await apply_reported_corrections(runtime)
            if written:
                log.info("child corrector: %d correction(s)", written)

        await repeat(one_pass, interval_s=interval_s, label="child corrector")

    return child_corrector


child_corrector = child_corrector_every(2.0)
