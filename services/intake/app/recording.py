"""Child records owed by a registered report or by a case a worker opened directly, written
once with their suggested duplicates, by whichever gets there first.

A report and its children's records are different aggregates, so they cannot be one atomic
append. Instead the report is the promise: once ``ReportRegistered`` is stored, the read model
owes a ``ChildRecorded`` for each child it mentions (casework's ``ChildIdentified`` owes one
the same way). The request that registered the report records them at once, so it can answer
with the suggested duplicates; the child-recorder inbox (``app/processes.py``) records whatever a
crash left owed. Both append the same event on a new aggregate, with expected version 0 and
the same idempotency key, so the log keeps exactly one record per child: the second writer
gets a duplicate or a conflict and answers with what the first one stored."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any

from pydantic import ValidationError
from sqlalchemy import (
    Float,
    Integer,
    Select,
    String,
    any_,
    bindparam,
    cast,
    func,
    or_,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.intake import ChildRecorded, DuplicateSuggested, ReportedChild, ReportRegistered
from services.intake.app.aggregates import CHILD
from services.intake.config import name_knowledge
from services.intake.domain import (
    ChildState,
    RecordChild,
    apply_correction,
    corrected_changes,
    decide_child,
)
from services.intake.domain.matching import Match, Profile, query_keys, suggest
from services.intake.read import child_keys, children, links, reports, suggestions
from services.intake.read.match_profiles import child_profile, known_profile, row_profile
from services.intake.read.matcher_state import weights_in_force
from shared.commands import Expect
from shared.db import reading
from shared.envelope import Actor
from shared.events import DomainEvent
from shared.eventstore import ConcurrencyConflict, EventStoreError
from shared.process import Ports
from shared.recorded import RecordedEvent

CANDIDATES = 100  # most candidates scored per registration, the best ranked first
PER_KEY = 1000  # most children read per key, the most recently received first


# Candidates from the index (decisions 0032 and 0033): one lookup in the key table's index
# per key of the new record (a name code in one plausible birth year), filtered there and
# bounded to the ``per_key`` children most recently received, so that the commonest name in
# a national registry costs no more to look up than a rare one. Each child found is ranked
# by what its shared codes say, not by how many keys it shares: a code weighs
# ln((per_key + 1) / found), ``found`` being how many children its key returned (a code that
# hit the bound weighs next to nothing; a surname shared by three children weighs much), and
# a code counts once however many birth years it was found in. Counting keys instead let a
# child sharing only a common given name over two birth years outrank the same child
# reported again with its age unknown, who shares given name and surname once each (`u`).
# Only the best ``limit`` children are then read, by primary key.
# Each key is looked up on its own (a LATERAL subquery with its own LIMIT) so that the plan
# does not depend on the table's statistics: with ``key = ANY(...)`` or a plain join,
# PostgreSQL read the whole key table whenever it had not yet analyzed it.
# Written with SQLAlchemy Core, not as SQL text, so that the tables are found in the read
# models' live generation (shared/generations.py) like every other query's; built once, with
# its values as parameters: building it anew for every registration was a twentieth of the
# intake process's time under load.
def _candidates_query() -> Select[Any]:
    k = child_keys.c
    wanted = (
        func.unnest(bindparam("keys", type_=ARRAY(String)), bindparam("codes", type_=ARRAY(String)))
        .table_valued("key", "code")
        .render_derived(name="wanted")
    )
    per_key = (
        select(k.child_id, k.received_at)
        .where(k.key == wanted.c.key)
        .where(k.matchable.is_(True))
        .where(k.sex.in_(bindparam("sexes", expanding=True)))
        .where(k.child_id.not_in(bindparam("exclude", expanding=True)))
        .where(or_(k.report_id.is_(None), k.report_id != bindparam("report_id")))
        .order_by(k.received_at.desc())
        .limit(bindparam("per_key", type_=Integer))
        .lateral("per_key")
    )
    hits = (
        select(
            wanted.c.code,
            per_key.c.child_id,
            per_key.c.received_at,
            func.count().over(partition_by=wanted.c.key).label("found"),
        )
        .select_from(wanted.join(per_key, true()))
        .subquery("hits")
    )
    bound = func.ln(cast(bindparam("per_key", type_=Integer), Float) + 1.0)
    per_code = (
        select(
            hits.c.child_id,
            func.max(bound - func.ln(hits.c.found)).label("weight"),
            func.max(hits.c.received_at).label("received"),
        )
        .group_by(hits.c.child_id, hits.c.code)
        .subquery("per_code")
    )
    weight = func.sum(per_code.c.weight).label("weight")
    received = func.max(per_code.c.received).label("received")
    best = (
        select(per_code.c.child_id, weight, received)
        .group_by(per_code.c.child_id)
        .order_by(weight.desc(), received.desc())
        .limit(bindparam("limit"))
        .subquery("best")
    )
    return (
        select(*_candidate_columns(with_details=False))
        .select_from(
            best.join(children, children.c.child_id == best.c.child_id).outerjoin(
                reports, reports.c.report_id == children.c.report_id
            )
        )
        .order_by(best.c.weight.desc(), best.c.received.desc())
    )


def _candidate_columns(*, with_details: bool) -> list[Any]:
    c = children.c
    details = [c.details] if with_details else []
    reporter = reports.c.document["reporter"].label("reporter")
    return [c.child_id, c.report_id, c.commune, *details, c.received_at, c.version, reporter]


def _details_query() -> Select[Any]:
    return (
        select(*_candidate_columns(with_details=True))
        .select_from(children.outerjoin(reports, reports.c.report_id == children.c.report_id))
        .where(children.c.child_id == any_(bindparam("ids", type_=ARRAY(String))))
    )


CANDIDATES_QUERY = _candidates_query()
# A candidate's details are read only if its profile is not remembered: decoding every
# candidate's JSON on each registration, remembered or not, was a twentieth of intake's time.
DETAILS_QUERY = _details_query()


def _sexes(sex: str) -> list[str]:
    """A known sex never matches the other one (the weights would rule it out anyway)."""
    if sex == "female":
        return ["female", "unknown", "other"]
    if sex == "male":
        return ["male", "unknown", "other"]
    return ["female", "male", "unknown", "other"]


async def candidates(
    conn: AsyncConnection,
    new: Profile,
    *,
    exclude: Iterable[str] = (),
    limit: int = CANDIDATES,
    per_key: int = PER_KEY,
) -> list[Profile]:
    keys = list(dict.fromkeys(query_keys(name_knowledge(), new)))  # each key looked up once
    if not keys:
        return []
    rows = await conn.execute(
        CANDIDATES_QUERY,
        {
            "keys": keys,
            "codes": [key.rpartition("|")[0] for key in keys],
            "per_key": per_key,
            "sexes": _sexes(new.sex),
            "exclude": [new.child_id, *exclude],
            "report_id": new.report_id or "",
            "limit": limit,
        },
    )
    ranked = [(r, known_profile(r)) for r in rows]
    missing = [r.child_id for r, known in ranked if known is None]
    # Read again in full, by primary key: a child changed between the two reads is taken as
    # it now reads, and one that is gone is left out.
    fresh = (
        {r.child_id: r for r in await conn.execute(DETAILS_QUERY, {"ids": missing})}
        if missing
        else {}
    )
    return [
        known if known is not None else row_profile(fresh[r.child_id])
        for r, known in ranked
        if known is not None or r.child_id in fresh
    ]


@dataclass(frozen=True)
class Reporter:
    """A report's reporter as its stored event says (``None``: the report names none), the
    same as the read model's copy of the report document."""

    known: dict[str, Any] | None

    @classmethod
    def of(cls, report: ReportRegistered) -> Reporter:
        return cls(report.reporter.model_dump(mode="json") if report.reporter else None)


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
    ports: Ports,
    child: ReportedChild,
    *,
    commune: str,
    received_at: str,
    report_id: str | None,
    exclude: Iterable[str] = (),
    reporter: Reporter | None = None,
) -> list[DuplicateSuggested]:
    """Known children that look like ``child``, as suggestions: candidates from the index,
    scored with the weights in force. Children of the same report are siblings or
    companions, never duplicates of each other. ``reporter``: the report's reporter as the
    caller holds it (the request that registered it, before its read model shows it);
    otherwise read from the read model."""
    if child.unidentified or not (child.name or child.alias):
        return []
    assert ports.engine is not None
    async with reading(ports.engine) as conn:
        new = child_profile(
            child,
            commune=commune,
            received_at=received_at,
            report_id=report_id,
            reporter=(reporter.known if reporter is not None else await _reporter(conn, report_id)),
        )
        weights, _ = await weights_in_force(conn)
        known = await candidates(conn, new, exclude=exclude)
    found = suggest(name_knowledge(), weights, new, known)
    return [suggestion(child.child_id, m) for m in found]


async def already_related(ports: Ports, child_id: str) -> set[str]:
    """Children linked to this one, or that already carry a suggestion naming it: suggesting
    them again from this side would only ask the same question twice."""
    assert ports.engine is not None
    async with reading(ports.engine) as conn:
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
    reporter: Reporter | None = None,
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
            reporter=reporter,
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
