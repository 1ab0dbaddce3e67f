"""The audit index: every event of INTAKE, REFERRAL and CASEWORK with the records it names,
and every access record of AUDIT, in the reporting database.

The index is generic on purpose. It reads any event type through
:func:`shared.audit_history.index_envelope`, so a new event in another service
is indexed the day it is deployed, with no change here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    select,
    tuple_,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.audit_history import (
    CASE_STREAMS,
    IndexedEvent,
    Link,
    index_envelope,
    parse_instant,
    related_links,
)
from shared.bulk import ColumnInsert
from shared.db import checkpoints, dead_letters
from shared.projection import Projection
from shared.recorded import PoisonEvent, RecordedEvent, parse_envelope

INDEXED_CONTEXTS = tuple(s.lower() for s in CASE_STREAMS)
INDEX_NAME = "reporting.audit_index"
ACCESS_NAME = "reporting.audit_access"

metadata = MetaData()

events_table = Table(
    "audit_event",
    metadata,
    Column("stream", String(64), primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    Column("subject", String, nullable=False),
    Column("type", String, nullable=False),
    Column("context", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    Column("aggregate_type", String(64), nullable=False),
    Column("aggregate_id", String, nullable=False),
    Column("aggregate_version", Integer, nullable=False),
    Column("time", DateTime(timezone=True), nullable=False),
    Column("actor", String, nullable=False),
    Column("actor_agency", String, nullable=False),
    Column("actor_role", String, nullable=False),
    Column("data", JSONB, nullable=False),
    Index("audit_event_aggregate", "aggregate_type", "aggregate_id"),
)

# One row per (event, record it names): "everything about these records" is one lookup on
# the primary key's prefix.
links_table = Table(
    "audit_link",
    metadata,
    Column("kind", String(16), primary_key=True),
    Column("ref_id", String, primary_key=True),
    Column("stream", String(64), primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    Index("audit_link_event", "stream", "seq"),
)

access_metadata = MetaData()

access_table = Table(
    "audit_access",
    access_metadata,
    Column("stream", String(64), primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    Column("event_id", String(64), nullable=False),
    Column("user_id", String, nullable=False),
    Column("agency", String, nullable=False),
    Column("role", String, nullable=False),
    Column("service", String, nullable=False),
    Column("record_type", String, nullable=False),
    Column("record_id", String, nullable=False),
    Column("purpose", String),
    Column("read_at", DateTime(timezone=True), nullable=False),
    Column("outcome", String(10), nullable=False),  # read, or refused (answered 404)
    Index("audit_access_record", "record_id", "read_at"),
    Index("audit_access_user", "user_id", "read_at"),
)


# -- the event index ------------------------------------------------------------------------


# Built once (decision 0026); insert-or-ignore: the checkpoint already makes this
# exactly-once; this also keeps a hand-replayed dead letter from failing on a row that is
# there.
# One statement per table and run (shared.bulk): a rebuild indexes every event of three
# streams, and row-by-row statements kept it waiting on PostgreSQL.
_events = ColumnInsert(events_table)
_links = ColumnInsert(links_table)
_insert_events = _events.statement.on_conflict_do_nothing()
_insert_links = _links.statement.on_conflict_do_nothing()


async def index_events(conn: AsyncConnection, run: Sequence[RecordedEvent]) -> None:
    """A run of consecutive events (decision 0027): their rows, then their links, each in
    one statement (rows of different events never collide, so the order within a run does
    not change the result)."""
    indexed = [
        index_envelope(
            recorded.position.stream,
            recorded.seq,
            recorded.subject,
            recorded.envelope,
            decoded=recorded.event,
        )
        for recorded in run
    ]
    await conn.execute(_insert_events, _events.params([_event_row(e) for e in indexed]))
    links = [
        {"kind": link.kind, "ref_id": link.id, "stream": e.stream, "seq": e.seq}
        for e in indexed
        for link in sorted(e.links)
    ]
    if links:
        await conn.execute(_insert_links, _links.params(links))


def index_projection() -> Projection:
    # v2: a suggested duplicate's candidate is a link (a child record the history shows).
    projection = Projection(name=INDEX_NAME, version=2, metadata=metadata)
    for context in INDEXED_CONTEXTS:
        projection.on_batch(context)(index_events)
    return projection


def _event_row(e: IndexedEvent) -> dict[str, Any]:
    return {
        "stream": e.stream,
        "seq": e.seq,
        "subject": e.subject,
        "type": e.type,
        "context": e.context,
        "name": e.name,
        "aggregate_type": e.aggregate_type,
        "aggregate_id": e.aggregate_id,
        "aggregate_version": e.aggregate_version,
        "time": e.time,
        "actor": e.actor,
        "actor_agency": e.actor_agency,
        "actor_role": e.actor_role,
        "data": e.data,
    }


# -- access records -------------------------------------------------------------------------

# v2: refused reads (answered 404) are recorded too, with their outcome.
access_projection = Projection(name=ACCESS_NAME, version=2, metadata=access_metadata)


_access = ColumnInsert(access_table)
_insert_access = _access.statement.on_conflict_do_nothing()


@access_projection.on_batch("audit", "RecordAccessed")
async def record_accesses(conn: AsyncConnection, run: Sequence[RecordedEvent]) -> None:
    """A run of access records in one statement (decision 0027)."""
    await conn.execute(_insert_access, _access.params([_access_row(r) for r in run]))


def _access_row(recorded: RecordedEvent) -> dict[str, Any]:
    data = recorded.event.model_dump(mode="json")  # upcast: every version has an outcome
    try:
        read_at = parse_instant(str(data["at"]))
    except ValueError:  # the access happened; when exactly is second to that fact
        read_at = parse_instant(recorded.time)
    return {
        "stream": recorded.position.stream,
        "seq": recorded.seq,
        "event_id": recorded.id,
        "user_id": str(data["user"]),
        "agency": str(data["agency"]),
        "role": str(data["role"]),
        "service": str(data["service"]),
        "record_type": str(data["record_type"]),
        "record_id": str(data["record_id"]),
        "purpose": data.get("purpose"),
        "read_at": read_at,
        "outcome": str(data.get("outcome") or "read"),
    }


# -- reading the index ----------------------------------------------------------------------


async def case_candidates(conn: AsyncConnection, case_id: str) -> list[IndexedEvent]:
    """Every indexed event the case's history may need: found link by link, following the
    same relation as :func:`related_links` until it adds nothing (three rounds at most)."""
    found: dict[tuple[str, int], IndexedEvent] = {}
    asked: set[Link] = set()
    wanted: set[Link] = {Link("case", case_id)}
    while wanted - asked:
        new = wanted - asked
        asked |= new
        positions = (
            await conn.execute(
                select(links_table.c.stream, links_table.c.seq)
                .where(
                    tuple_(links_table.c.kind, links_table.c.ref_id).in_(
                        [(link.kind, link.id) for link in sorted(new)]
                    )
                )
                .distinct()
            )
        ).all()
        missing = [(p.stream, p.seq) for p in positions if (p.stream, p.seq) not in found]
        for event in await _load_events(conn, missing):
            found[(event.stream, event.seq)] = event
        wanted = set(related_links(case_id, found.values()))
    return [*found.values(), *await set_aside_events(conn)]


async def _load_events(
    conn: AsyncConnection, positions: list[tuple[str, int]]
) -> list[IndexedEvent]:
    if not positions:
        return []
    key = tuple_(events_table.c.stream, events_table.c.seq)
    rows = (await conn.execute(select(events_table).where(key.in_(positions)))).all()
    link_key = tuple_(links_table.c.stream, links_table.c.seq)
    links: dict[tuple[str, int], set[Link]] = {}
    for row in (await conn.execute(select(links_table).where(link_key.in_(positions)))).all():
        links.setdefault((row.stream, row.seq), set()).add(Link(row.kind, row.ref_id))
    return [
        IndexedEvent(
            stream=r.stream,
            seq=r.seq,
            subject=r.subject,
            type=r.type,
            context=r.context,
            name=r.name,
            aggregate_type=r.aggregate_type,
            aggregate_id=r.aggregate_id,
            aggregate_version=r.aggregate_version,
            time=r.time,
            actor=r.actor,
            actor_agency=r.actor_agency,
            actor_role=r.actor_role,
            data=r.data,
            links=frozenset(links.get((r.stream, r.seq), set())),
        )
        for r in rows
    ]


async def set_aside_events(conn: AsyncConnection) -> list[IndexedEvent]:
    """Events the projector could not decode (a type this software does not know, or data its
    model refuses) are set aside as dead letters before any handler sees them. They are
    still part of the record: read them from their stored bytes, as ``relais audit case``
    does from the stream. Dead letters are rare, so reading them all is cheap."""
    rows = (
        await conn.execute(
            select(
                dead_letters.c.stream,
                dead_letters.c.seq,
                dead_letters.c.subject,
                dead_letters.c.payload,
            ).where(dead_letters.c.projector == INDEX_NAME)
        )
    ).all()
    indexed = []
    for row in rows:
        try:
            envelope = parse_envelope(row.payload)
        except PoisonEvent:  # not an event at all: `relais audit verify` reports it
            continue
        indexed.append(index_envelope(row.stream, row.seq, row.subject, envelope))
    return indexed


async def indexed_up_to(conn: AsyncConnection) -> dict[str, int]:
    """How far the index has read each stream: the freshness of any answer built on it."""
    rows = (
        await conn.execute(
            select(checkpoints.c.stream, checkpoints.c.last_seq).where(
                checkpoints.c.projector.in_([INDEX_NAME, ACCESS_NAME])
            )
        )
    ).all()
    return {r.stream: int(r.last_seq) for r in rows}
