"""A projector in its own process, for the test that kills it with SIGKILL."""

from __future__ import annotations

import asyncio
import sys

import nats

from shared.db import make_engine
from shared.projection import StreamProjector
from tests import lab


async def main(nats_url: str, database_url: str, until: int) -> None:
    nc = await nats.connect(nats_url)
    engine = make_engine(database_url, pool_size=2)
    projector = StreamProjector(lab.projection, "LAB", engine, nc.jetstream(), batch_size=20)
    print("running", flush=True)
    await projector.run(until_seq=until)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
