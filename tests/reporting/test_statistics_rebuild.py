"""The facts projection rebuilt from the log equals the one built event by event while the
log was being written (small batches, three streams interleaved); ``relais reporting
rebuild`` does it with a progress bar."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from nats.aio.client import Client as NATS
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner

from relais import rebuild as rebuild_command
from relais.cli import app as cli
from services.reporting.read import facts, publications
from shared.db import make_engine
from shared.generations import read_live, use_generation
from shared.streams import ensure_streams
from tests.reporting.statistics_story import write_story
from tests.reporting.stats_support import caught_up, running, settings_for


async def snapshot(engine: AsyncEngine) -> dict[str, list[Any]]:
    tables = [*facts.metadata.sorted_tables, *publications.metadata.sorted_tables]
    out: dict[str, list[Any]] = {}
    async with engine.connect() as conn:
        for table in tables:
            rows = (await conn.execute(select(table).order_by(*table.primary_key.columns))).all()
            out[table.name] = [tuple(row) for row in rows]
    return out


async def test_rebuild_equals_incremental(
    nats_url: str, pg_server_url: str, nc: NATS, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await ensure_streams(nc.jetstream(), "hq", contexts=("intake", "referral", "casework", "audit"))
    settings = settings_for(nats_url, pg_server_url, tmp_path, projector_batch=7)
    async with running(settings) as svc:
        await write_story(nc)  # while the projectors run
        await caught_up(svc.runtime, nc)
    engine = make_engine(settings.database_url_for("reporting"))
    try:
        incremental = await snapshot(engine)
        assert len(incremental["stat_report"]) == 100 and incremental["stat_service"]

        monkeypatch.setattr(rebuild_command, "CLAIM_WAIT_S", 0.2)  # the service is stopped
        monkeypatch.setenv("NATS_URL", nats_url)
        monkeypatch.setenv("DATABASE_URL", pg_server_url)
        monkeypatch.setenv("RELAIS_DATABASE_PREFIX", settings.database_prefix)
        result = await asyncio.to_thread(CliRunner().invoke, cli, ["reporting", "rebuild"])
        assert result.exit_code == 0, result.output
        assert "reporting.statistics" in result.output

        # The rebuilt read models are a new generation, now the live one.
        live = await read_live(engine)
        assert live.startswith("rm_")
        use_generation(engine, live)
        assert await snapshot(engine) == incremental
    finally:
        await engine.dispose()
