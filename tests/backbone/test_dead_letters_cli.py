"""``relais dead-letters``: an operator sees where each event a projection could not apply
is in the log, and why, without its payload (which may hold a child's data)."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
from sqlalchemy import insert
from typer.testing import CliRunner

from relais.cli import app
from shared.config import with_database
from shared.db import backbone_metadata, dead_letters, ensure_database, make_engine

pytestmark = pytest.mark.system


async def prepare(url: str) -> None:
    await ensure_database(url)
    engine = make_engine(url, pool_size=1)
    async with engine.begin() as conn:
        await conn.run_sync(backbone_metadata.create_all)
    await engine.dispose()


async def add_dead_letters(url: str) -> None:
    engine = make_engine(url, pool_size=1)
    async with engine.begin() as conn:
        for seq, error in ((7, "not JSON: Expecting value\nline 2"), (9, "RuntimeError: boom")):
            await conn.execute(
                insert(dead_letters).values(
                    projector="casework.main",
                    stream="INTAKE",
                    seq=seq,
                    subject="intake.hq.report.r1.ReportRegistered",
                    error=error,
                    payload=b'{"name":"Aminata"}',
                )
            )
    await engine.dispose()


# Not a coroutine: the command runs its own event loop, as it does from a terminal.
def test_dead_letters_are_listed_by_position_without_their_payload(pg_server_url: str) -> None:
    prefix = f"tdl{uuid.uuid4().hex[:10]}_"
    url = with_database(pg_server_url, f"{prefix}casework")
    asyncio.run(prepare(url))
    env = {"DATABASE_URL": pg_server_url, "RELAIS_DATABASE_PREFIX": prefix}
    runner = CliRunner()

    empty = runner.invoke(app, ["dead-letters", "casework"], env=env)
    assert empty.exit_code == 0, empty.output
    assert "no dead letters" in empty.output

    asyncio.run(add_dead_letters(url))
    listed = runner.invoke(app, ["dead-letters", "casework", "--json", "--limit", "1"], env=env)
    assert listed.exit_code == 1  # there is something to look at
    body = json.loads(listed.output)
    assert body["total"] == 2
    [first] = body["items"]
    assert (first["projector"], first["stream"], first["seq"]) == ("casework.main", "INTAKE", 7)
    assert first["reason"] == "not JSON: Expecting value"
    table = runner.invoke(app, ["dead-letters", "casework"], env=env)
    assert table.exit_code == 1 and "boom" in table.output  # the table wraps long text
    assert "Aminata" not in table.output + listed.output

    unknown = runner.invoke(app, ["dead-letters", "payroll"], env=env)
    assert unknown.exit_code == 2
    unset = runner.invoke(app, ["dead-letters", "casework"], env={"DATABASE_URL": ""})
    assert unset.exit_code == 2 and "DATABASE_URL" in unset.output
