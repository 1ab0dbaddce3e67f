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
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Select, String, any_, cast, func, literal, or_, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.intake import ChildRecorded, DuplicateSuggested, ReportedChild
from services.intake.app.aggregates import aggregate
from services.intake.config import name_knowledge
from services.intake.domain import (
    ChildState,
    RecordChild,
    apply_correction,
    corrected_changes,
    decide_child,
)
from services.intake.domain.matching import Match, Profile, query_keys, suggest
from services.intake.read import children, links, reports, suggestions
from services.intake.read.match_profiles import child_profile, row_profile
from services.intake.read.matcher_state import weights_in_force
from shared.envelope import Actor
from shared.eventstore import ConcurrencyConflict, EventStoreError
from shared.recorded import RecordedEvent
from shared.service import ReadYourWritesTimeout, Runtime

CANDIDATES = 200  # most candidates scored per registration, those sharing the most keys first


# Candidates from the index: records sharing a name code in a plausible birth year (the GIN
# index on block_keys answers ``&&``), ranked by how many keys they share; never a scan.
# Written with SQLAlchemy Core, not as SQL text, so that the tables are found in the read
# models' live generation (shared/generations.py) like every other query's.
def _candidates_query(
    keys: list[str], sexes: list[str], exclude: list[str], report_id: str, limit: int
) -> Select[Any]:
    wanted = cast(literal(keys, ARRAY(String)), ARRAY(String))
    key = func.unnest(children.c.block_keys).table_valued("k").render_derived()
    shared = select(func.count()).select_from(key).where(key.c.k == any_(wanted))
    ranked = (
        select(
            children.c.child_id,
            children.c.report_id,
            children.c.commune,
            children.c.details,
            children.c.received_at,
            shared.scalar_subquery().label("shared"),
        )
        .where(children.c.block_keys.overlap(wanted))
        .where(children.c.unidentified.is_(False))
        .where(children.c.sex.in_(sexes))
        .where(children.c.child_id.not_in(exclude))
        .where(or_(children.c.report_id.is_(None), children.c.report_id != report_id))
        .order_by(text("shared DESC"), children.c.received_at.desc())
        .limit(limit)
        .subquery("c")
    )
    return select(
        ranked.c.child_id,
        ranked.c.report_id,
        ranked.c.commune,
        ranked.c.details,
        ranked.c.received_at,
        reports.c.document["reporter"].label("reporter"),
    ).select_from(ranked.outerjoin(reports, reports.c.report_id == ranked.c.report_id))


def _sexes(sex: str) -> list[str]:
    """A known sex never matches the other one (the weights would rule it out anyway)."""
    if sex == "female":
        return ["female", "unknown", "other"]
    if sex == "male":
        return ["male", "unknown", "other"]
    return ["female", "male", "unknown", "other"]


async def candidates(
    conn: AsyncConnection, new: Profile, *, exclude: Iterable[str] = (), limit: int = CANDIDATES
) -> list[Profile]:
    keys = query_keys(name_knowledge(), new)
    if not keys:
        return []
    rows = await conn.execute(
        _candidates_query(
            list(keys), _sexes(new.sex), [new.child_id, *exclude], new.report_id or "", limit
        )
    )
    return [row_profile(r) for r in rows]


async def _reporter(conn: AsyncConnection, report_id: str | None) -> dict[str, Any] | None:
    if not report_id:
        return None
    found = await conn.execute(
        select(reports.c.document["reporter"]).where(reports.c.report_id == report_id)
    )
    value = found.scalar()
    return dict(value) if isinstance(value, dict) else None


def suggestion(child_id: str, m: Match) -> DuplicateSuggested:
    return DuplicateSuggested(
        child_id=child_id,
        candidate_id=m.candidate_id,
        score=m.score,
        reasons=list(m.reasons),
        explanation_en=m.explanation.en,
        explanation_fr=m.explanation.fr,
        comparison=m.levels,
        weights_id=m.weights_id,
        match_weight=m.match_weight,
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
    """Known children that look like ``child``, as suggestions: candidates from the index,
    scored with the weights in force. Children of the same report are siblings or
    companions, never duplicates of each other."""
    if child.unidentified or not (child.name or child.alias):
        return []
    assert rt.engine is not None
    async with rt.engine.connect() as conn:
        new = child_profile(
            child,
            commune=commune,
            received_at=received_at,
            report_id=report_id,
            reporter=await _reporter(conn, report_id),
        )
        weights, _ = await weights_in_force(conn)
        known = await candidates(conn, new, exclude=exclude)
    found = suggest(name_knowledge(), weights, new, known)
    return [suggestion(child.child_id, m) for m in found]


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
