"""relais rebuild with no instance running: the command builds the new generation of read
models beside the old one itself, switches the pointer and drops the old; the state is the
same, and the next rebuild does it again from the new one."""

from __future__ import annotations

import io
import uuid

import pytest
from nats.aio.client import Client as NATS
from rich.console import Console
from sqlalchemy import insert, inspect, select, text, update

from relais import rebuild as rebuild_cli
from relais.rebuild import NoDatabase, rebuild
from shared.config import Settings
from shared.db import checkpoints, ensure_database, make_engine
from shared.generations import PUBLIC, prepare_fixed, read_live, rebuild_requests, use_generation
from shared.projection import StreamProjector
from shared.projection_schema import prepare
from shared.rebuild import claim, read_request, request
from shared.service import ServiceSpec
from tests import lab
from tests.backbone.helpers import lab_store, write_counters

pytestmark = pytest.mark.connected


async def test_rebuild_without_a_running_instance(
    nats_url: str, pg_server_url: str, nc: NATS, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rebuild_cli, "CLAIM_WAIT_S", 0.2)  # nobody will claim it
    store = await lab_store(nc)
    last = await write_counters(store, counters=3, moves=6)
    settings = Settings(
        nats_url=nats_url, database_url=pg_server_url, database_prefix=f"t{uuid.uuid4().hex[:10]}_"
    )
    engine = make_engine(settings.database_url_for("lab"))
    spec = ServiceSpec(name="lab", context="lab", title="lab", projections=[lab.projection])
    out = io.StringIO()
    try:
        # The read model as a service left it, in the first generation ("public").
        await ensure_database(settings.database_url_for("lab"))
        await prepare(engine, lab.projection)
        assert (
            await StreamProjector(lab.projection, "LAB", engine, nc.jetstream()).run(until_seq=last)
            is None
        )
        async with engine.begin() as conn:
            before = await lab.snapshot(conn)
            # A projection the service runs apart (the public feed): not rebuilt, it keeps its
            # place in the log.
            await conn.execute(
                insert(checkpoints).values(projector="lab.feed", stream="LAB", last_seq=last)
            )
        assert sum(row[3] for row in before) == last

        assert await rebuild("lab", settings, Console(file=out), spec) == 0
        first = await read_live(engine)
        assert first.startswith("rm_")
        use_generation(engine, first)
        async with engine.connect() as conn:
            assert await lab.snapshot(conn) == before
            kept = select(checkpoints.c.last_seq).where(checkpoints.c.projector == "lab.feed")
            assert (await conn.execute(kept)).scalar() == last
            public = await conn.run_sync(lambda c: inspect(c).get_table_names(schema=PUBLIC))
        assert "lab_totals" not in public and "projection_checkpoint" not in public
        assert "relais_read_model" in public  # the pointer stays where everyone finds it
        async with engine.connect() as conn:
            # Analyzed before going live: planned with statistics from its first query.
            unknown = text(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = :schema AND c.relkind = 'r' AND c.reltuples < 0"
            )
            assert (await conn.execute(unknown, {"schema": first})).scalars().all() == []
            tables = text(
                "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = :schema AND c.relkind = 'r'"
            )
            assert (await conn.execute(tables, {"schema": first})).scalar() >= 2
        assert "not running" in out.getvalue() and "lab.totals ← LAB" in out.getvalue()

        assert await rebuild("lab", settings, Console(file=out), spec) == 0
        second = await read_live(engine)
        assert second not in (first, PUBLIC)
        use_generation(engine, second)
        async with engine.connect() as conn:
            assert await lab.snapshot(conn) == before
            schemas = (
                await conn.execute(
                    text("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'rm_%'")
                )
            ).scalars()
            assert set(schemas) == {second}
    finally:
        await engine.dispose()


async def test_rebuild_says_where_the_database_is_missing(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(NoDatabase, match="relais up"):
        settings = Settings(data_dir=tmp_path, database_url="")
        await rebuild("lab", settings, Console(file=io.StringIO()))


async def test_a_rebuild_whose_instance_stopped_is_said_abandoned(engine) -> None:  # type: ignore[no-untyped-def]
    await prepare_fixed(engine)
    asked = await request(engine)
    assert await claim(engine, "/relais/hq/lab/1") == asked
    assert not await rebuild_cli.abandoned(engine, asked)  # it reported a moment ago
    async with engine.begin() as conn:
        await conn.execute(
            update(rebuild_requests).values(updated_at=text("now() - interval '2 minutes'"))
        )
    assert await rebuild_cli.abandoned(engine, asked)
    assert (await read_request(engine, asked) or {})["status"] == "failed"
