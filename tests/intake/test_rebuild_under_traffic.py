"""relais rebuild against a running service, with reports coming in and being read all the
while: no request fails or waits for its read model in vain, the service switches to the new
read models at once, they equal the old ones brought to the same point of the log, and the
old ones are then dropped."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from typing import Any

import pytest
from rich.console import Console
from sqlalchemy import inspect, select

from relais.rebuild import rebuild
from services.intake.service import spec
from shared import rebuild as rebuilding
from shared.catch_up import CatchUpProjector
from shared.db import checkpoints
from shared.generations import PUBLIC, on_generation
from tests.intake.conftest import Intake, report_body, stop


async def _rows(engine: Any, schema: str) -> dict[str, list[tuple[Any, ...]]]:
    generation = on_generation(engine, schema)
    found: dict[str, list[tuple[Any, ...]]] = {}
    async with generation.connect() as conn:
        for projection in spec.projections:
            for table in projection.metadata.sorted_tables:
                query = select(table).order_by(*table.primary_key.columns)
                found[table.name] = [tuple(row) for row in await conn.execute(query)]
        query = select(checkpoints.c.projector, checkpoints.c.stream, checkpoints.c.last_seq)
        found["checkpoints"] = sorted(tuple(row) for row in await conn.execute(query))
    return found


async def test_rebuild_while_reports_come_in_and_are_read(
    intake: Intake, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rebuilding, "DROP_GRACE_S", 3600.0)  # kept, to compare with
    operator = intake.as_("hotline_operator", user="op-1")
    for _ in range(30):
        assert (await operator.post("/reports", report_body())).status_code == 201

    failures: list[str] = []
    answered: list[float] = []
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    async def traffic() -> None:
        for _ in range(500):  # bounded, whatever happens
            if stop.is_set():
                return
            made = await operator.post("/reports", report_body())
            if made.status_code != 201:
                failures.append(f"POST /reports {made.status_code}")
                continue
            report_id = made.json()["report_id"]
            read = await operator.get(f"/reports/{report_id}")  # read-your-writes
            listed = await operator.get("/reports", page_size=5)
            for answer in (read, listed):
                if answer.status_code != 200:
                    failures.append(f"GET {answer.url.path} {answer.status_code}")
            answered.append(loop.time())

    running = asyncio.create_task(traffic())
    out = io.StringIO()
    began = loop.time()
    try:
        assert await rebuild("intake", intake.settings, Console(file=out), spec) == 0
    finally:
        ended = loop.time()
        stop.set()
        await running
    assert failures == []
    during = [t for t in answered if began <= t <= ended]
    assert len(during) >= 3, f"{len(during)} requests during the rebuild"
    assert "intake.main ← INTAKE" in out.getvalue()

    # -- the service switched: its queries and projectors use the new generation ------------
    runtime = intake.runtime
    new = runtime.generation
    assert new.startswith("rm_")
    assert all(p.generation == new for p in runtime.projectors)
    js = runtime.nc.jetstream()
    for projector in runtime.projectors:
        last = (await js.stream_info(projector.stream)).state.last_seq
        assert await projector.wait_for(last, 15), projector.label

    # -- equal to the old read models, brought to the same point of the log ------------------
    old = on_generation(runtime.engine, PUBLIC)
    for projector in runtime.projectors:
        behind = CatchUpProjector(
            projector.projection, projector.stream, old, js, generation=PUBLIC
        )
        await behind.catch_up(runtime.nc, projector.checkpoint)
    rebuilt, kept = await _rows(runtime.engine, new), await _rows(runtime.engine, PUBLIC)
    assert rebuilt["intake_reports"] and rebuilt == kept

    # -- then the old ones go -----------------------------------------------------------------
    assert runtime.rebuilder.retiring is not None
    runtime.rebuilder.retiring = (PUBLIC, 0.0)

    async def tables_left() -> set[str]:
        async with runtime.engine.connect() as conn:
            names = await conn.run_sync(lambda c: inspect(c).get_table_names(schema=PUBLIC))
        return set(names) & set(rebuilt)

    for _ in range(100):
        if not await tables_left():
            break
        await asyncio.sleep(0.1)
    assert await tables_left() == set()
    # Registering looks duplicates up in the read models: in the new generation only now.
    assert (await operator.post("/reports", report_body())).status_code == 201
    assert (await operator.get("/reports", page_size=5)).status_code == 200


async def test_every_instance_follows_the_switch(
    make_intake: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rebuilding, "DROP_GRACE_S", 3.0)
    first, second = await make_intake("1"), await make_intake("2")
    try:
        operator = second.as_("hotline_operator", user="op-2")
        made = await operator.post("/reports", report_body())
        assert made.status_code == 201
        out = io.StringIO()
        assert await rebuild("intake", first.settings, Console(file=out), spec) == 0
        new = {first.runtime.generation, second.runtime.generation} - {PUBLIC}
        assert len(new) == 1

        async def followed() -> bool:
            return {first.runtime.generation, second.runtime.generation} == new

        for _ in range(50):  # each instance looks at the pointer every second
            if await followed():
                break
            await asyncio.sleep(0.1)
        assert await followed()
        # Both answer from the new generation, the report made before included.
        for service in (first, second):
            answer = await service.as_("intake_officer").get(f"/reports/{made.json()['report_id']}")
            assert answer.status_code == 200, answer.text
        again = await operator.post("/reports", report_body())
        assert again.status_code == 201
    finally:
        await stop(second)
        await stop(first)
