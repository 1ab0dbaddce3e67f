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
from functools import partial
from typing import Any

from pydantic import ValidationError
from sqlalchemy import or_, select

from contracts.intake import ChildRecorded, DuplicateSuggested, ReportedChild
from services.intake.app.aggregates import CHILD
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
from shared.commands import Expect
from shared.envelope import Actor
from shared.events import DomainEvent
from shared.eventstore import ConcurrencyConflict, EventStoreError
from shared.process import Ports
from shared.recorded import RecordedEvent
from shared.reference import locations


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
    ports: Ports,
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
    assert ports.engine is not None
    query = select(children).where(
        children.c.block_keys.overlap(keys), children.c.unidentified.is_(False)
    )
    if report_id:
        query = query.where(or_(children.c.report_id.is_(None), children.c.report_id != report_id))
    excluded = set(exclude)
    if excluded:
        query = query.where(children.c.child_id.not_in(excluded))
    async with ports.engine.connect() as conn:
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


async def already_related(ports: Ports, child_id: str) -> set[str]:
    """Children linked to this one, or that already carry a suggestion naming it: suggesting
    them again from this side would only ask the same question twice."""
    assert ports.engine is not None
    async with ports.engine.connect() as conn:
        linked = await conn.execute(select(links.c.other_id).where(links.c.child_id == child_id))
        named = await conn.execute(
            select(suggestions.c.child_id).where(suggestions.c.candidate_id == child_id)
        )
        return {r[0] for r in linked} | {r[0] for r in named}


async def correction_matches(
    ports: Ports, state: ChildState, changes: dict[str, Any]
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
        ports,
        after,
        commune=state.commune,
        received_at=state.received_at,
        report_id=state.report_id,
        exclude=await already_related(ports, state.child_id),
    )


@dataclass(frozen=True)
class Recorded:
    child_id: str
    suggestions: list[DuplicateSuggested]  # as the log holds them
    written: bool  # False when the record was already there (another writer, a retry)


def _stored_suggestions(recorded: list[RecordedEvent]) -> list[DuplicateSuggested]:
    return [r.event for r in recorded if isinstance(r.event, DuplicateSuggested)]


def _decide_record(state: ChildState, command: RecordChild) -> list[DomainEvent]:
    return decide_child(state, command)


def record_key(ports: Ports, child_id: str, writer: str) -> str:
    """One key per writer, not one per child: the event store sends a multi-event append as
    an atomic batch, and two writers sending the same message ids at once can make the server
    drop both. Exactly one record per child is the server's expected-version-0 check; the key
    only makes one writer's retry recognise its own earlier append."""
    assert ports.commands is not None
    return f"record:{child_id}:{ports.commands.store.source}:{writer}"


ATTEMPTS = 3


async def record_child(
    ports: Ports,
    event: ChildRecorded,
    *,
    actor: Actor,
    causation_id: str | None,
    writer: str,
    read_your_writes: bool = True,
) -> Recorded:
    """Append ``event`` with its suggested duplicates unless the child already has a record.
    ``read_your_writes``: wait until the read model shows the record, whoever stored it (a
    request's caller reads it next; a background process need not wait)."""
    commands = ports.commands
    assert commands is not None
    for attempt in range(ATTEMPTS):
        loaded = await commands.load(CHILD, event.child_id)
        if loaded.exists:
            if read_your_writes and commands.settle is not None:
                await commands.settle(loaded.aggregate.stream, loaded.version)
            return Recorded(event.child_id, _stored_suggestions(loaded.recorded), False)
        found = await likely_matches(
            ports,
            event.details,
            commune=event.commune,
            received_at=event.received_at,
            report_id=event.report_id,
        )
        command = RecordChild(event, found)
        try:
            outcome = await commands.execute(
                CHILD,
                event.child_id,
                partial(_decide_record, command=command),
                expect=Expect.new(),
                actor=actor,
                key=record_key(ports, event.child_id, writer),
                causation_id=causation_id,
                read_your_writes=read_your_writes,
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
        stored = [r.event for r in outcome.events if isinstance(r.event, DuplicateSuggested)]
        return Recorded(event.child_id, stored, outcome.changed)
    loaded = await commands.load(CHILD, event.child_id)
    if not loaded.exists:  # conflicts each time yet nothing stored: cannot happen on a new subject
        raise ConcurrencyConflict(loaded.aggregate, 0, 0)
    if read_your_writes and commands.settle is not None:
        await commands.settle(loaded.aggregate.stream, loaded.version)
    return Recorded(event.child_id, _stored_suggestions(loaded.recorded), False)
