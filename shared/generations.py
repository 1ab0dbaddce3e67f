"""Generations of a service's read models: the live one, and one being built beside it.

A service's read models (every projection's tables, with their checkpoints, dead letters and
schema versions) live in one PostgreSQL schema, the **live generation**, named in the
``relais_read_model`` row of the ``public`` schema (``public`` itself until the first
rebuild). No query names it: the engine's ``schema_translate_map`` puts every table declared
without a schema into the live generation, so switching generations is one pointer update and
one change of the engine's default options, seen by every connection taken after it.
Tables that are not read models (the access-record outbox, these two) are declared in
``public`` and never move. See docs/decisions/0015.

A rebuild asked for by ``relais rebuild`` is a row of ``relais_read_model_rebuild``, which a
running instance claims (:mod:`shared.rebuild`)."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.db import create_tables

PUBLIC = "public"
_NAME = re.compile(r"^(public|rm_[0-9a-f]{12})$")

fixed_metadata = MetaData(schema=PUBLIC)

live_generation = Table(
    "relais_read_model",
    fixed_metadata,
    Column("id", Integer, primary_key=True),  # one row: 1
    Column("live", String(63), nullable=False),
    Column("previous", String(63)),
    Column("switched_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

rebuild_requests = Table(
    "relais_read_model_rebuild",
    fixed_metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    # requested, running, done, failed
    Column("status", String(20), nullable=False, index=True),
    Column("requested_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("started_at", DateTime(timezone=True)),
    # Written with every progress report: a running request not updated for long was
    # abandoned (its instance stopped).
    Column("updated_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
    Column("instance", String(200)),  # the instance that ran it (/relais/<site>/<svc>/<n>)
    Column("generation", String(63)),  # the generation it built
    # {"<projection>/<stream>": [applied, target], ...} while it runs
    Column("progress", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("stage", String(40)),  # building, switching, dropping the old
    Column("error", Text),
)


def check_name(schema: str) -> str:
    """A generation's name goes into DDL: only names this module makes are accepted."""
    if not _NAME.match(schema):
        raise ValueError(f"not a read-model generation: {schema!r}")
    return schema


def on_generation(engine: AsyncEngine, schema: str) -> AsyncEngine:
    """An engine (sharing ``engine``'s pool) whose unqualified tables are in ``schema``."""
    return engine.execution_options(schema_translate_map={None: check_name(schema)})


def use_generation(engine: AsyncEngine, schema: str) -> None:
    """From now on, connections of ``engine`` find unqualified tables in ``schema``;
    connections already taken keep the generation they began with."""
    engine.update_execution_options(schema_translate_map={None: check_name(schema)})


async def prepare_fixed(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await create_tables(conn, fixed_metadata)


async def live_schema(conn: AsyncConnection) -> str:
    found = (await conn.execute(select(live_generation.c.live))).scalar()
    return check_name(str(found)) if found else PUBLIC


async def read_live(engine: AsyncEngine) -> str:
    """The live generation, without creating anything (for tools that only read)."""
    async with engine.connect() as conn:
        pointer = await conn.execute(text("SELECT to_regclass('public.relais_read_model')"))
        return await live_schema(conn) if pointer.scalar() else PUBLIC


async def adopt_live(engine: AsyncEngine) -> str:
    """Point ``engine`` at the live generation (creating the pointer's tables if needed)."""
    await prepare_fixed(engine)
    async with engine.connect() as conn:
        schema = await live_schema(conn)
    use_generation(engine, schema)
    return schema


async def switch_to(conn: AsyncConnection, schema: str, previous: str) -> None:
    """Make ``schema`` the live generation (in the caller's transaction)."""
    values: dict[str, Any] = {
        "live": check_name(schema),
        "previous": previous,
        "switched_at": func.now(),
    }
    await conn.execute(
        insert(live_generation)
        .values(id=1, **values)
        .on_conflict_do_update(index_elements=["id"], set_=values)
    )
