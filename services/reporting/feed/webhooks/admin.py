"""What ``relais integrators deliveries`` and ``redeliver`` read and change."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from services.reporting.feed.webhooks.tables import FAILED, PENDING, cursors, deliveries


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


async def redeliver(
    engine: AsyncEngine, name: str, *, from_position: int | None, failed_only: bool
) -> int:
    """Make deliveries due again now: every one from ``from_position`` on, or only those
    listed as failed. Returns how many."""
    where = [deliveries.c.integrator == name]
    if from_position is not None:
        where.append(deliveries.c.position >= from_position)
    if failed_only:
        where.append(deliveries.c.status == FAILED)
    async with engine.begin() as conn:
        done = await conn.execute(
            update(deliveries)
            .where(*where)
            .values(
                status=PENDING,
                attempts=0,
                first_attempt_at=None,
                delivered_at=None,
                last_error=None,
                next_attempt_at=datetime.now(UTC),
            )
        )
    return int(done.rowcount or 0)
