"""A projector in its own process, for the test that kills it with SIGKILL."""

from __future__ import annotations

import asyncio
import sys

import nats
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.db import make_engine
from shared.projection import StreamProjector
from shared.recorded import RecordedEvent
from tests import lab


async def main(nats_url: str, database_url: str, until: int) -> None:
    nc = await nats.connect(nats_url)
    engine = make_engine(database_url, pool_size=2)
    moved = lab.projection.handlers[("lab", "CounterMoved")]

    async def slow_moved(conn: AsyncConnection, event: RecordedEvent) -> None:
        await asyncio.sleep(0.003)  # so that the test's SIGKILL lands mid-stream
        await moved(conn, event)

    lab.projection.handlers[("lab", "CounterMoved")] = slow_moved
    projector = StreamProjector(lab.projection, "LAB", engine, nc.jetstream(), batch_size=20)
    print("running", flush=True)
    await projector.run(until_seq=until)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
