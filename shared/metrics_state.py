"""The part of ``/metrics`` read when scraped: projector checkpoints and lag, dead letters
and access records waiting in the outbox, from the service's database and the streams. They
hold for every instance alike, whichever one applies the projections."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from nats.aio.client import Client as NATS
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.access import access_outbox
from shared.db import checkpoints, dead_letters
from shared.metrics import ProjectorState, ServiceState
from shared.projection import StreamProjector

log = logging.getLogger(__name__)


async def service_state(
    service: str,
    nc: NATS | None,
    engine: AsyncEngine | None,
    projectors: Sequence[StreamProjector],
) -> ServiceState:
    """What a part that cannot be read (NATS or the database away) is left out of."""
    last_seqs: dict[str, int] = {}
    if nc is not None and nc.is_connected:
        js = nc.jetstream(timeout=2)
        for stream in sorted({p.stream for p in projectors}):
            try:
                last_seqs[stream] = int((await js.stream_info(stream)).state.last_seq)
            except Exception as exc:  # metrics report what they can
                log.warning("metrics: stream %s unreadable (%s)", stream, type(exc).__name__)
    stored: dict[tuple[str, str], int] | None = None
    letters: dict[tuple[str, str], int] = {}
    pending: int | None = None
    if engine is not None:
        try:
            async with engine.connect() as conn:
                stored = {
                    (row.projector, row.stream): int(row.last_seq)
                    for row in await conn.execute(select(checkpoints))
                }
                count = func.count().label("n")
                letters = {
                    (row.projector, row.stream): int(row.n)
                    for row in await conn.execute(
                        select(dead_letters.c.projector, dead_letters.c.stream, count).group_by(
                            dead_letters.c.projector, dead_letters.c.stream
                        )
                    )
                }
                pending = (
                    await conn.execute(
                        select(func.count())
                        .select_from(access_outbox)
                        .where(access_outbox.c.published_at.is_(None))
                    )
                ).scalar_one()
        except Exception as exc:  # metrics report what they can
            log.warning("metrics: database unreadable (%s)", type(exc).__name__)
            stored, pending = None, None
    return ServiceState(
        service,
        [
            ProjectorState(
                projection=p.projection.name,
                stream=p.stream,
                checkpoint=None if stored is None else stored.get((p.projection.name, p.stream), 0),
                stream_last=last_seqs.get(p.stream),
                dead_letters=None
                if stored is None
                else letters.get((p.projection.name, p.stream), 0),
                active=p.active,
            )
            for p in projectors
        ],
        pending,
    )
