"""Event types used only by the backbone's tests, in their own "lab" context."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Column, Integer, MetaData, String, Table, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.events import DomainEvent, event_type, upcaster
from shared.projection import Projection
from shared.recorded import RecordedEvent


@event_type(context="lab", aggregate="counter", en="A counter was opened.", fr="Compteur ouvert.")
class CounterOpened(DomainEvent):
    label: str


@event_type(
    context="lab",
    aggregate="counter",
    version=2,
    en="A counter moved by an amount.",
    fr="Un compteur a bougé d'une quantité.",
)
class CounterMoved(DomainEvent):
    amount: int
    unit: str  # added in v2


@upcaster("lab", "CounterMoved", 1)
def _moved_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    # v1 counted in single steps and had no unit.
    return {"amount": data["by"], "unit": "step"}


@event_type(
    context="lab",
    aggregate="counter",
    en="A handler in the tests refuses this event.",
    fr="Un gestionnaire des tests refuse cet événement.",
)
class CounterBroken(DomainEvent):
    reason: str


@event_type(
    context="lab",
    aggregate="counter",
    en="A counter was calibrated (a number with a fraction, and free text).",
    fr="Un compteur a été étalonné (un nombre à virgule et un texte libre).",
)
class CounterCalibrated(DomainEvent):
    factor: float
    note: str


metadata = MetaData()
totals = Table(
    "lab_totals",
    metadata,
    Column("counter", String(64), primary_key=True),
    Column("label", String(200)),
    Column("total", BigInteger, nullable=False, default=0),
    Column("events", Integer, nullable=False, default=0),
    Column("last_seq", BigInteger, nullable=False),
)

projection = Projection(name="lab.totals", version=1, metadata=metadata)


@projection.on("lab", "CounterOpened")
async def _opened(conn: AsyncConnection, e: RecordedEvent) -> None:
    assert isinstance(e.event, CounterOpened)
    await conn.execute(
        insert(totals).values(
            counter=e.aggregate.id, label=e.event.label, total=0, events=1, last_seq=e.seq
        )
    )


@projection.on("lab", "CounterMoved")
async def _moved(conn: AsyncConnection, e: RecordedEvent) -> None:
    assert isinstance(e.event, CounterMoved)
    await conn.execute(
        totals.update()
        .where(totals.c.counter == e.aggregate.id)
        .values(total=totals.c.total + e.event.amount, events=totals.c.events + 1, last_seq=e.seq)
    )


@projection.on("lab", "CounterBroken")
async def _broken(conn: AsyncConnection, e: RecordedEvent) -> None:
    raise RuntimeError("this handler always fails")


async def snapshot(conn: AsyncConnection) -> list[tuple[Any, ...]]:
    rows = await conn.execute(select(totals).order_by(totals.c.counter))
    return [tuple(r) for r in rows]
