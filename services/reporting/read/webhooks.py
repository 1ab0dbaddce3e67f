"""Webhook deliveries in reporting's own database: one row per public event of an integrator
(copied from its subjects in PUBLIC), its state and attempts; how far the copy went; and what
``relais integrators deliveries`` shows of them.

These tables belong to no projection: a projection's rebuild drops its tables, and delivery
state must survive it (decision 0021)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    and_,
    func,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db import create_tables

# In ``public`` whatever the read models' generation (decision 0015): delivery state is not
# a read model, and a rebuild must neither drop it nor start it afresh.
metadata = MetaData(schema="public")

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"

deliveries = Table(
    "webhook_delivery",
    metadata,
    Column("integrator", String(32), primary_key=True),
    Column("position", BigInteger, primary_key=True, doc="Sequence of the event in PUBLIC"),
    Column("message_id", String(64), nullable=False),
    Column("aggregate", String(80), nullable=False, doc="The public subject (a pseudonym)"),
    Column("event_type", String(200), nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("first_attempt_at", DateTime(timezone=True)),
    Column("last_attempt_at", DateTime(timezone=True)),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("delivered_at", DateTime(timezone=True)),
    # "HTTP 503", "timeout", ...: never the endpoint's answer itself.
    Column("last_error", String(200)),
    Index("webhook_delivery_heads", "integrator", "status", "aggregate", "position"),
)

cursors = Table(
    "webhook_cursor",
    metadata,
    Column("integrator", String(32), primary_key=True),
    Column("last_position", BigInteger, nullable=False),
)


async def prepare_tables(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await create_tables(conn, metadata)


@dataclass(frozen=True)
class Delivery:
    position: int
    event_type: str
    status: str
    attempts: int
    last_error: str | None
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None

    def as_json(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "type": self.event_type,
            "status": self.status,
            "attempts": self.attempts,
            "last_error": self.last_error,
            "last_attempt_at": _iso(self.last_attempt_at),
            "next_attempt_at": _iso(self.next_attempt_at) if self.status == PENDING else None,
        }


@dataclass(frozen=True)
class Summary:
    copied_up_to: int
    counts: dict[str, int]
    troubled: list[Delivery]  # failed, or pending after at least one failed attempt

    def as_json(self) -> dict[str, Any]:
        return {
            "copied_up_to": self.copied_up_to,
            "counts": self.counts,
            "troubled": [d.as_json() for d in self.troubled],
        }


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment else None


async def summary(engine: AsyncEngine, name: str, *, limit: int = 100) -> Summary:
    async with engine.connect() as conn:
        copied = (
            await conn.execute(select(cursors.c.last_position).where(cursors.c.integrator == name))
        ).scalar() or 0
        counts = {
            str(status): int(n)
            for status, n in (
                await conn.execute(
                    select(deliveries.c.status, func.count())
                    .where(deliveries.c.integrator == name)
                    .group_by(deliveries.c.status)
                )
            ).all()
        }
        rows = (
            await conn.execute(
                select(deliveries)
                .where(deliveries.c.integrator == name)
                .where(
                    or_(
                        deliveries.c.status == FAILED,
                        and_(deliveries.c.status == PENDING, deliveries.c.attempts > 0),
                    )
                )
                .order_by(deliveries.c.position)
                .limit(limit)
            )
        ).all()
    troubled = [
        Delivery(
            r.position,
            r.event_type,
            r.status,
            r.attempts,
            r.last_error,
            r.last_attempt_at,
            r.next_attempt_at,
        )
        for r in rows
    ]
    return Summary(copied, counts, troubled)
