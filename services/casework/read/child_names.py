"""The one thing of the child's identity casework keeps: the name a case page shows its
owner's roles (decision 0019).

Intake keeps the child record; casework learns the display name from intake's
``ChildRecorded`` and ``ChildDetailsCorrected`` (the name, else the alias) into a table of its
own, keyed by the child alone, that nothing else joins into a list, copies into an event or
writes to a log: erasing a child's record erases the name here with one delete by child id,
and a rebuild reads it again only from what the log still holds. Its handlers register on
the one projection of ``tables.py``; the package imports this module."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Column, String, Table, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.intake import ChildDetailsCorrected, ChildRecorded
from services.casework.read.tables import metadata, projection
from shared.recorded import RecordedEvent

child_names = Table(
    "cw_child_names",
    metadata,
    Column("child_id", String(64), primary_key=True),
    # What a person calls the child, as intake's record now reads: shown as the name, else
    # the alias; both none for a child recorded as unidentified.
    Column("name", String(200)),
    Column("alias", String(200)),
)


def _text(value: Any) -> str | None:
    return value.strip()[:200] if isinstance(value, str) and value.strip() else None


async def _put(conn: AsyncConnection, child_id: str, values: dict[str, str | None]) -> None:
    await conn.execute(
        insert(child_names)
        .values(child_id=child_id, **values)
        .on_conflict_do_update(index_elements=["child_id"], set_=values)
    )


_record = insert(child_names)
_record = _record.on_conflict_do_update(
    index_elements=["child_id"],
    set_={"name": _record.excluded.name, "alias": _record.excluded.alias},
)


@projection.on_batch("intake", "ChildRecorded")
async def _recorded(conn: AsyncConnection, run: Sequence[RecordedEvent]) -> None:
    """A run of records in one executemany (decision 0027), in stream order: a child recorded
    twice ends with its last record's name, as one event at a time would."""
    rows = []
    for e in run:
        ev = e.event
        assert isinstance(ev, ChildRecorded)
        rows.append(
            {
                "child_id": ev.child_id,
                "name": _text(ev.details.name),
                "alias": _text(ev.details.alias),
            }
        )
    await conn.execute(_record, rows)


async def name_corrected(conn: AsyncConnection, e: RecordedEvent) -> None:
    """A correction's effect on the name shown (called by the one handler of
    ``ChildDetailsCorrected``, in ``child_correction_handlers.py``)."""
    ev = e.event
    assert isinstance(ev, ChildDetailsCorrected)
    changed: dict[str, str | None] = {
        k: _text(ev.changes[k]) for k in ("name", "alias") if k in ev.changes
    }
    if changed:
        await _put(conn, ev.child_id, changed)


async def display_name(conn: AsyncConnection, child_id: str) -> str | None:
    """The child's name, else alias; None if unknown here or unidentified."""
    row = (
        await conn.execute(
            select(child_names.c.name, child_names.c.alias).where(
                child_names.c.child_id == child_id
            )
        )
    ).first()
    return (row.name or row.alias) if row else None
