"""Child records owed by a registered report or by a case a worker opened directly, written
once with their suggested duplicates, by whichever gets there first.

A report and its children's records are different aggregates, so they cannot be one atomic
append. Instead the report is the promise: once ``ReportRegistered`` is stored, the read model
owes a ``ChildRecorded`` for each child it mentions (casework's ``ChildIdentified`` owes one
the same way). The request that registered the report records them at once, so it can answer
with the suggested duplicates; the child-recorder loop (``app/policies.py``) records whatever a
crash left owed. Both append the same event on a new aggregate, with expected version 0 and
the same idempotency key, so the log keeps exactly one record per child: the second writer
gets a duplicate or a conflict and answers with what the first one stored."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from pydantic import ValidationError
from sqlalchemy import or_, select

from contracts.intake import ChildRecorded, DuplicateSuggested, ReportedChild
from services.intake.app.aggregates import aggregate
from services.intake.domain import (
    ChildState,
    RecordChild,
    age_range,
    apply_correction,
    corrected_changes,
    decide_child,
    matching,
    parse_time,
)
from services.intake.read import children, links, suggestions
from shared.envelope import Actor
from shared.eventstore import ConcurrencyConflict, EventStoreError
from shared.recorded import RecordedEvent
from shared.reference import locations
from shared.service import ReadYourWritesTimeout, Runtime


def _department(commune: str) -> str | None:
    return None if commune == "unknown" else locations().parent_of(commune)


def _profile_of(row: Any) -> matching.Profile:
    d = row.details
    born = (row.born_from, row.born_to) if row.born_from is not None else None
    return matching.profile(
        row.child_id,
        name=d.get("name"),
        alias=d.get("alias"),
        sex=row.sex,
        born=born,
        commune=row.commune,
        department=_department(row.commune),
    )


def profile_for(child: ReportedChild, commune: str, received: date) -> matching.Profile:
    known = age_range(child, received)
    dob = date.fromisoformat(child.date_of_birth) if child.date_of_birth else None
    born = matching.birth_window(
        received, dob, known[0] if known else None, known[1] if known else None
    )
    return matching.profile(
        child.child_id,
        name=child.name,
        alias=child.alias,
        sex=child.sex,
        born=born,
        commune=commune,
        department=_department(commune),
    )


async def likely_matches(
    rt: Runtime,
    child: ReportedChild,
    *,
    commune: str,
    received_at: str,
    report_id: str | None,
    exclude: Iterable[str] = (),
) -> list[DuplicateSuggested]:
    """Known children that look like ``child``, as suggestions: those sharing a blocking key,
    scored by the matcher. Children of the same report are siblings or companions, never
    duplicates of each other."""
    keys = matching.blocking_keys(child.name, child.alias)
    if not keys or child.unidentified:
        return []
    assert rt.engine is not None
    query = select(children).where(
        children.c.block_keys.overlap(keys), children.c.unidentified.is_(False)
    )
    if report_id:
        query = query.where(or_(children.c.report_id.is_(None), children.c.report_id != report_id))
    excluded = set(exclude)
    if excluded:
        query = query.where(children.c.child_id.not_in(excluded))
    async with rt.engine.connect() as conn:
        rows = (await conn.execute(query.limit(5000))).all()
    new = profile_for(child, commune, parse_time(received_at).date())
    return [
        DuplicateSuggested(
            child_id=child.child_id,
            candidate_id=m.candidate_id,
            score=m.score,
            reasons=list(m.reasons),
        )
        for m in matching.suggest(new, [_profile_of(r) for r in rows])
    ]


async def already_related(rt: Runtime, child_id: str) -> set[str]:
    """Children linked to this one, or that already carry a suggestion naming it: suggesting
    them again from this side would only ask the same question twice."""
    assert rt.engine is not None
    async with rt.engine.connect() as conn:
        linked = await conn.execute(select(links.c.other_id).where(links.c.child_id == child_id))
        named = await conn.execute(
            select(suggestions.c.child_id).where(suggestions.c.candidate_id == child_id)
        )
        return {r[0] for r in linked} | {r[0] for r in named}


async def correction_matches(
    rt: Runtime, state: ChildState, changes: dict[str, Any]
) -> list[DuplicateSuggested]:
    """Likely matches for the child as ``changes`` would correct it: a corrected name or age
    can reveal a known child. None when the correction changes nothing or is invalid (the
    domain refuses it then, with its reason)."""
    if state.details is None:
        return []
    changed = corrected_changes(state.details, changes)
    if not changed:
        return []
    try:
        after = apply_correction(state.details, changed)
    except ValidationError:
        return []
    return await likely_matches(
        rt,
        after,
        commune=state.commune,
        received_at=state.received_at,
        report_id=state.report_id,
        exclude=await already_related(rt, state.child_id),
    )


@dataclass(frozen=True)
class Recorded:
    child_id: str
    suggestions: list[DuplicateSuggested]  # as the log holds them
    written: bool  # False when the record was already there (another writer, a retry)


def _stored_suggestions(recorded: list[RecordedEvent]) -> list[DuplicateSuggested]:
    return [r.event for r in recorded if isinstance(r.event, DuplicateSuggested)]


def record_key(rt: Runtime, child_id: str, writer: str) -> str:
    """One key per writer, not one per child: the event store sends a multi-event append as
    an atomic batch named after its first event's id, and two writers sending the same batch
    at once make the server drop both (10176, "batch is incomplete"). Exactly one record per
    child is the server's expected-version-0 check; the key only makes one writer's retry
    recognise its own earlier append."""
    return f"record:{child_id}:{rt.source}:{writer}"


ATTEMPTS = 3


async def record_child(
    rt: Runtime,
    event: ChildRecorded,
    *,
    actor: Actor,
    causation_id: str | None,
    writer: str,
    read_your_writes: bool = True,
) -> Recorded:
    """Append ``event`` with its suggested duplicates unless the child already has a record.
    ``read_your_writes``: when another writer stored it, wait until the read model shows it
    (a request's caller reads it next; a background loop need not wait)."""
    assert rt.store is not None
    agg = aggregate(rt, "child", event.child_id)
    for attempt in range(ATTEMPTS):
        recorded = await rt.store.load(agg)
        if recorded:
            if read_your_writes:
                await _caught_up(rt, agg.stream, recorded[-1].seq)
            return Recorded(event.child_id, _stored_suggestions(recorded), False)
        found = await likely_matches(
            rt,
            event.details,
            commune=event.commune,
            received_at=event.received_at,
            report_id=event.report_id,
        )
        events = decide_child(ChildState(), RecordChild(event, found))
        try:
            result = await rt.commit(
                agg,
                0,
                events,
                actor=actor,
                idempotency_key=record_key(rt, event.child_id, writer),
                causation_id=causation_id,
            )
        except ConcurrencyConflict:
            continue  # recorded meanwhile by another writer: the log's version is the answer
        except EventStoreError:
            # A refused batch stores nothing; whether another writer got through or not, the
            # log says on the next turn.
            if attempt + 1 == ATTEMPTS:
                raise
            await asyncio.sleep(random.uniform(0.01, 0.1))
            continue
        stored = [r.event for r in result.events if isinstance(r.event, DuplicateSuggested)]
        return Recorded(event.child_id, stored, not result.duplicate)
    recorded = await rt.store.load(agg)
    if not recorded:  # conflicts each time yet nothing stored: cannot happen on a new subject
        raise ConcurrencyConflict(agg, 0, 0)
    if read_your_writes:
        await _caught_up(rt, agg.stream, recorded[-1].seq)
    return Recorded(event.child_id, _stored_suggestions(recorded), False)


async def _caught_up(rt: Runtime, stream: str, seq: int) -> None:
    """Read-your-writes for an event another writer stored: the caller may read it next."""
    for projector in rt.projectors:
        if projector.stream == stream and not await projector.wait_for(
            seq, rt.settings.read_your_writes_timeout_s
        ):
            raise ReadYourWritesTimeout(f"{stream}:{seq}")


async def current_details(rt: Runtime, child_ids: list[str]) -> dict[str, ReportedChild]:
    """The child records as they now read, corrections applied."""
    assert rt.engine is not None
    async with rt.engine.connect() as conn:
        rows = await conn.execute(
            select(children.c.child_id, children.c.details).where(
                children.c.child_id.in_(child_ids)
            )
        )
        return {r.child_id: ReportedChild.model_validate(r.details) for r in rows}
