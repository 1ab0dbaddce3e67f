"""``relais dead-letters <service>``: the events a service's projections could not apply.

A dead letter never stops a projector, so nobody notices it unless something says so: health
counts them, and this lists where each one is in the log (stream and sequence), its subject,
the reason and when. The stored payload is not shown: it may hold a child's data, and the
event itself is in the log at that position. Once the code is fixed, ``relais rebuild``
replays the log in order, the dead letters included."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from shared.db import dead_letters, make_engine
from shared.generations import read_live, use_generation

REASON_MAX = 300  # the first line, enough to say what went wrong


@dataclass(frozen=True)
class DeadLetter:
    projector: str
    stream: str
    seq: int
    subject: str
    reason: str
    recorded_at: datetime

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "recorded_at": self.recorded_at.isoformat()}


async def list_dead_letters(database_url: str, *, limit: int) -> tuple[int, list[DeadLetter]]:
    """How many dead letters the service's database holds, and the oldest ``limit`` of them."""
    engine = make_engine(database_url, pool_size=1)
    d = dead_letters.c
    try:
        use_generation(engine, await read_live(engine))
        async with engine.connect() as conn:
            total = int(
                (await conn.execute(select(func.count()).select_from(dead_letters))).scalar_one()
            )
            rows = (
                await conn.execute(
                    select(d.projector, d.stream, d.seq, d.subject, d.error, d.recorded_at)
                    .order_by(d.id)
                    .limit(limit)
                )
            ).all()
    finally:
        await engine.dispose()
    return total, [
        DeadLetter(
            projector=row.projector,
            stream=row.stream,
            seq=int(row.seq),
            subject=row.subject,
            reason=(row.error.splitlines() or [""])[0][:REASON_MAX],
            recorded_at=row.recorded_at,
        )
        for row in rows
    ]
