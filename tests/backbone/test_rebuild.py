"""relais rebuild: read models dropped and replayed from the log, identical."""

from __future__ import annotations

import io
import uuid

import pytest
from nats.aio.client import Client as NATS
from rich.console import Console

from relais.rebuild import rebuild
from shared.config import Settings
from shared.db import make_engine
from shared.projection import StreamProjector
from shared.projection_schema import prepare
from shared.service import ServiceSpec
from tests import lab
from tests.backbone.helpers import lab_store, write_counters

pytestmark = pytest.mark.connected


async def test_rebuild_replays_to_the_same_state(
    nats_url: str, pg_server_url: str, nc: NATS
) -> None:
    store = await lab_store(nc)
    last = await write_counters(store, counters=3, moves=6)
    settings = Settings(
        nats_url=nats_url, database_url=pg_server_url, database_prefix=f"t{uuid.uuid4().hex[:10]}_"
    )
    engine = make_engine(settings.database_url_for("lab"))
    spec = ServiceSpec(name="lab", context="lab", title="lab", projections=[lab.projection])
    out = io.StringIO()
    try:
        assert await rebuild("lab", settings, Console(file=out), spec) == 0
        async with engine.connect() as conn:
            first = await lab.snapshot(conn)
        assert (
            sum(row[3] for row in first) == (await nc.jetstream().stream_info("LAB")).state.messages
        )
        # incremental from here equals a second full rebuild
        await prepare(engine, lab.projection)
        assert await rebuild("lab", settings, Console(file=out), spec) == 0
        async with engine.connect() as conn:
            assert await lab.snapshot(conn) == first
        assert "lab.totals" in out.getvalue()
        assert last > 0
    finally:
        await engine.dispose()


async def test_rebuild_refuses_while_the_service_runs(
    nats_url: str, pg_server_url: str, nc: NATS
) -> None:
    import asyncio

    store = await lab_store(nc)
    last = await write_counters(store, counters=1, moves=1)
    settings = Settings(
        nats_url=nats_url, database_url=pg_server_url, database_prefix=f"t{uuid.uuid4().hex[:10]}_"
    )
    spec = ServiceSpec(name="lab", context="lab", title="lab", projections=[lab.projection])
    out = io.StringIO()
    assert await rebuild("lab", settings, Console(file=out), spec) == 0
    engine = make_engine(settings.database_url_for("lab"))
    running = StreamProjector(lab.projection, "LAB", engine, nc.jetstream())
    task = asyncio.create_task(running.run())
    try:
        assert await running.wait_for(last, 20)
        assert await rebuild("lab", settings, Console(file=out), spec) == 1
        assert "stop" in out.getvalue()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await engine.dispose()
