"""Each service's own PostgreSQL database: creating it and its tables, connecting, and the
tables every projection relies on (checkpoints, dead letters, schema versions)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    event,
    exc,
    func,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

from shared.projection_spec import lock_key

backbone_metadata = MetaData()

checkpoints = Table(
    "projection_checkpoint",
    backbone_metadata,
    Column("projector", String(200), primary_key=True),
    Column("stream", String(64), primary_key=True),
    Column("last_seq", BigInteger, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

dead_letters = Table(
    "dead_letter",
    backbone_metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("projector", String(200), nullable=False, index=True),
    Column("stream", String(64), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("subject", Text, nullable=False),
    Column("error", Text, nullable=False),
    # The raw message is kept so an operator can repair and replay it; it may hold child
    # data, so it stays in the service's database, never in logs.
    Column("payload", LargeBinary, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

schema_versions = Table(
    "projection_schema",
    backbone_metadata,
    Column("projector", String(200), primary_key=True),
    Column("version", Integer, nullable=False),
)


def make_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    # hide_parameters: SQL errors and echo never print bound values, which hold child data.
    engine = create_async_engine(
        url, pool_size=pool_size, max_overflow=5, pool_pre_ping=False, hide_parameters=True
    )
    event.listen(engine.sync_engine.pool, "checkout", _closed_is_replaced)
    return engine


@asynccontextmanager
async def reading(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection for reads that need no snapshot across statements: each statement runs
    on its own (AUTOCOMMIT), so no BEGIN and ROLLBACK round trips surround them. Never for
    writes: statements would not be atomic together."""
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        yield conn


def _closed_is_replaced(
    dbapi_connection: object, record: ConnectionPoolEntry, proxy: PoolProxiedConnection
) -> None:
    """A pooled connection the server closed (PostgreSQL restarted) is replaced at checkout.

    Instead of ``pool_pre_ping``: its ping costs three round trips with asyncpg (BEGIN, a
    query, ROLLBACK) at every checkout, a fifth of a registration's writes to PostgreSQL
    (decision 0026). A server that went away closes its sockets, and asyncpg marks the
    connection closed as soon as the event loop reads the end of the stream, without a round
    trip; a connection that breaks between checkout and use is invalidated by SQLAlchemy's
    disconnect handling, and that request answers as any request does when the database
    fails (decision 0011)."""
    driver = getattr(dbapi_connection, "driver_connection", None)
    if driver is not None and driver.is_closed():
        raise exc.DisconnectionError("the server closed this connection")


async def create_tables(conn: AsyncConnection, *metadatas: MetaData) -> None:
    """Create what is missing of these tables, under the schema lock. Instances of a service
    start together, and two ``CREATE TABLE`` of one name at once collide in PostgreSQL's
    catalog (one fails on its unique index): one creates, the others wait and find them."""
    await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock_key("schema")})
    for metadata in metadatas:
        await conn.run_sync(metadata.create_all)


async def ensure_database(url: str) -> None:
    """Create the database named in ``url`` if the server lacks it."""
    parsed = make_url(url)
    name = parsed.database
    if not name:
        raise ValueError("database URL names no database")
    host = parsed.query.get("host") or parsed.host
    kwargs: dict[str, object] = {
        "user": parsed.username or "postgres",
        "password": parsed.password,
        "host": host if isinstance(host, str) else None,
        "port": parsed.port,
        "database": "postgres",
    }
    conn = await asyncpg.connect(**kwargs)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            try:
                await conn.execute(f'CREATE DATABASE "{name}"')
            except (asyncpg.DuplicateDatabaseError, asyncpg.UniqueViolationError):
                # Another instance created it in the meantime: checked before ours began,
                # the duplicate name; while ours ran, the catalog's unique index.
                pass
    finally:
        await conn.close()
