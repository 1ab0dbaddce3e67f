"""Rebuilding a service's read models beside the live ones, without stopping anything
(docs/decisions/0015).

1. A new generation (a PostgreSQL schema ``rm_<hex>``) gets every projection's tables and its
   own checkpoints, dead letters and schema versions.
2. Each (projection, stream) is applied into it from the start of the log by direct get, in
   ordered batches, each in one transaction with its checkpoint, under the new generation's
   lease: the live projectors, reads and commands go on meanwhile.
3. The switch: this instance's live projectors pause, the new generation applies the last
   events, the pointer row names it (one transaction), the engine's default options follow,
   and the projectors resume on it. Commands waiting for their read model meanwhile wait a
   moment; reads are answered from one generation or the other, both whole.
4. The old generation is dropped after a grace period (other instances follow the pointer
   within a second; queries begun on it finish first).

A running instance does this when it claims a request row (:func:`claim`), which
``relais rebuild`` inserts; with no instance running, ``relais rebuild`` does it itself."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from nats.aio.client import Client as NATS
from sqlalchemy import MetaData, exists, insert, inspect, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.catch_up import CatchUpProjector
from shared.db import backbone_metadata, checkpoints, schema_versions
from shared.generations import (
    PUBLIC,
    check_name,
    live_schema,
    on_generation,
    rebuild_requests,
    switch_to,
    use_generation,
)
from shared.projection import Projection, StreamProjector
from shared.streams import stream_name

log = logging.getLogger(__name__)

DROP_GRACE_S = 10.0  # how long the old generation outlives the switch
PROGRESS_EVERY_S = 0.5

Report = Callable[..., Awaitable[None]]  # (stage, progress, **columns)


class RebuildFailed(RuntimeError):
    pass


@dataclass
class Built:
    """A generation built beside the live one, and the projectors that keep it caught up."""

    schema: str
    projectors: list[CatchUpProjector] = field(default_factory=list)
    targets: dict[str, int] = field(default_factory=dict)

    def progress(self) -> dict[str, list[int]]:
        """{projector: [applied, last sequence when the build began]}"""
        return {p.label: [p.checkpoint, self.targets.get(p.label, 0)] for p in self.projectors}


async def build_beside(
    engine: AsyncEngine,
    nc: NATS,
    projections: Sequence[Projection],
    *,
    report: Report,
    batch_size: int = 500,
) -> Built:
    """Steps 1 and 2: a new generation, caught up with the log as it is now, its tables
    analyzed (before the live projectors pause for the switch, not while they wait)."""
    schema = f"rm_{secrets.token_hex(6)}"
    built = Built(schema)
    generation = on_generation(engine, schema)
    async with generation.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{check_name(schema)}"'))
        await conn.run_sync(backbone_metadata.create_all)
        for projection in projections:
            await conn.run_sync(projection.metadata.create_all)
            await conn.execute(
                insert(schema_versions).values(
                    projector=projection.name, version=projection.version
                )
            )
    js = nc.jetstream()
    for projection in projections:
        for context in projection.contexts:
            built.projectors.append(
                CatchUpProjector(
                    projection,
                    stream_name(context),
                    generation,
                    js,
                    batch_size=batch_size,
                    generation=schema,
                )
            )
    for projector in built.projectors:
        info = await js.stream_info(projector.stream)
        built.targets[projector.label] = int(info.state.last_seq)
    await report("building", built.progress(), generation=schema)
    for projector in built.projectors:
        task = asyncio.create_task(projector.catch_up(nc, built.targets[projector.label]))
        try:
            while not task.done():
                await asyncio.wait({task}, timeout=PROGRESS_EVERY_S)
                await report("building", built.progress())
        finally:
            task.cancel()  # if we are being cancelled (the service stops), so is the build
        await task
    await analyze_generation(engine, schema)
    return built


async def finish(built: Built, nc: NATS) -> None:
    """The last events, applied while the live projectors are paused."""
    for projector in built.projectors:
        await projector.catch_up(nc)


async def make_live(engine: AsyncEngine, schema: str, previous: str) -> None:
    """Step 3's atomic part: the pointer names the new generation, and ``engine`` uses it.

    Projections that were not rebuilt (the public feed, run by its own loop: replaying it
    would publish the log again) keep their positions: their checkpoints are carried over in
    the same transaction. What such a projector applies on the old generation until it meets
    the new one is applied again from there, which for the feed the server deduplicates."""
    source = checkpoints.to_metadata(MetaData(), schema=check_name(previous))
    target = checkpoints.to_metadata(MetaData(), schema=check_name(schema))
    there = target.alias("there")
    carried = select(source.c.projector, source.c.stream, source.c.last_seq).where(
        ~exists().where(there.c.projector == source.c.projector, there.c.stream == source.c.stream)
    )
    async with engine.begin() as conn:
        await conn.execute(insert(target).from_select(["projector", "stream", "last_seq"], carried))
        await switch_to(conn, schema, previous)
    use_generation(engine, schema)


async def analyze_generation(engine: AsyncEngine, schema: str) -> None:
    """Give the planner the statistics of a generation just built, before it goes live.
    Autovacuum analyzes a table only on one of its passes, a minute apart by default: until
    then PostgreSQL plans as for a table it knows nothing of. The matcher's candidate lookup
    at 1,856 children then read all 11,858 rows of the key table (4.2 ms); with statistics,
    the 208 rows it wanted through its index (0.3 ms). The gap grows with the registry."""
    schema = check_name(schema)
    listed = text("SELECT tablename FROM pg_tables WHERE schemaname = :schema")
    async with engine.begin() as conn:
        names = (await conn.execute(listed, {"schema": schema})).scalars().all()
        for name in sorted(names):
            await conn.execute(text(f'ANALYZE "{schema}"."{name}"'))


async def drop_generation(
    engine: AsyncEngine, schema: str, projections: Sequence[Projection]
) -> None:
    """Drop a generation no longer live. ``public`` (the first) loses only the read models'
    tables; any other schema is dropped whole, unless it holds a table that is not a read
    model's (then it is kept, and said so: nothing unknown is ever dropped)."""
    check_name(schema)
    async with engine.connect() as conn:
        if await live_schema(conn) == schema:
            raise RebuildFailed(f"{schema} is the live generation")
    generation = on_generation(engine, schema)
    async with generation.begin() as conn:
        if schema == PUBLIC:
            for projection in projections:
                await conn.run_sync(projection.metadata.drop_all)
            await conn.run_sync(backbone_metadata.drop_all)
            return
        found = set(await conn.run_sync(lambda c: inspect(c).get_table_names(schema=schema)))
        known = {t.name for t in backbone_metadata.sorted_tables} | {
            t.name for p in projections for t in p.metadata.sorted_tables
        }
        if found - known:
            log.error("read models %s kept: it holds tables no projection declares", schema)
            return
        await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


# -- the request row: relais rebuild asks, a running instance does it ---------------------------


async def request(engine: AsyncEngine) -> int:
    async with engine.begin() as conn:
        return int(
            (
                await conn.execute(
                    insert(rebuild_requests)
                    .values(status="requested")
                    .returning(rebuild_requests.c.id)
                )
            ).scalar_one()
        )


async def withdraw(engine: AsyncEngine, request_id: int) -> bool:
    """True if the request was still unclaimed and is now withdrawn."""
    async with engine.begin() as conn:
        gone = await conn.execute(
            rebuild_requests.delete()
            .where(rebuild_requests.c.id == request_id)
            .where(rebuild_requests.c.status == "requested")
        )
        return bool(gone.rowcount)


async def read_request(engine: AsyncEngine, request_id: int) -> dict[str, Any] | None:
    async with engine.connect() as conn:
        row = (
            await conn.execute(select(rebuild_requests).where(rebuild_requests.c.id == request_id))
        ).one_or_none()
    return None if row is None else dict(row._mapping)


async def claim(engine: AsyncEngine, instance: str) -> int | None:
    """The oldest unclaimed request, now this instance's; None if there is none."""
    async with engine.begin() as conn:
        oldest = (
            select(rebuild_requests.c.id)
            .where(rebuild_requests.c.status == "requested")
            .order_by(rebuild_requests.c.id)
            .limit(1)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        claimed = await conn.execute(
            update(rebuild_requests)
            .where(rebuild_requests.c.id == oldest)
            .values(
                status="running",
                instance=instance,
                started_at=text("now()"),
                updated_at=text("now()"),
            )
            .returning(rebuild_requests.c.id)
        )
        found = claimed.scalar()
    return None if found is None else int(found)


def recorder(engine: AsyncEngine, request_id: int) -> Report:
    async def report(stage: str, progress: dict[str, list[int]], **extra: Any) -> None:
        async with engine.begin() as conn:
            await _set(conn, request_id, stage=stage, progress=progress, **extra)

    return report


async def _set(conn: AsyncConnection, request_id: int, **values: Any) -> None:
    await conn.execute(
        update(rebuild_requests)
        .where(rebuild_requests.c.id == request_id)
        .values(updated_at=text("now()"), **values)
    )


async def settle(engine: AsyncEngine, request_id: int, *, error: str | None = None) -> None:
    async with engine.begin() as conn:
        await _set(
            conn,
            request_id,
            status="failed" if error else "done",
            error=error,
            finished_at=text("now()"),
        )


# -- a running instance ---------------------------------------------------------------------------


class Host(Protocol):
    """What a service instance offers a rebuild (shared/service.py's Runtime)."""

    generation: str
    projectors: list[StreamProjector]

    async def pause_projectors(self) -> None: ...

    def resume_projectors(self) -> None: ...


@dataclass
class Rebuilder:
    """Runs in a service instance: follows the live generation and does the rebuilds asked
    of it (:meth:`step`, every second)."""

    host: Host
    engine: AsyncEngine
    nc: NATS
    projections: Sequence[Projection]
    instance: str
    batch_size: int = 500
    drop_after_s: float | None = None  # default: DROP_GRACE_S
    retiring: tuple[str, float] | None = None  # a generation to drop, and from when

    async def step(self) -> None:
        async with self.engine.connect() as conn:
            live = await live_schema(conn)
        if live != self.host.generation:
            await self.follow(live)
        if self.retiring is not None and time.monotonic() >= self.retiring[1]:
            old, _ = self.retiring
            self.retiring = None
            await drop_generation(self.engine, old, self.projections)
            log.info("read models: generation %s dropped", old)
        request_id = await claim(self.engine, self.instance)
        if request_id is not None:
            await self.run(request_id)

    async def follow(self, schema: str) -> None:
        """Another instance switched: move this one's projectors and queries over."""
        await self.host.pause_projectors()
        try:
            use_generation(self.engine, schema)
            self._set_generation(schema)
        finally:
            self.host.resume_projectors()
        log.info("read models: now on generation %s", schema)

    def _set_generation(self, schema: str) -> None:
        self.host.generation = schema
        for projector in self.host.projectors:
            projector.generation = schema

    async def run(self, request_id: int) -> None:
        report = recorder(self.engine, request_id)
        previous = self.host.generation
        built: Built | None = None
        live = False
        try:
            built = await build_beside(
                self.engine, self.nc, self.projections, report=report, batch_size=self.batch_size
            )
            await report("switching", built.progress())
            await self.host.pause_projectors()
            try:
                await finish(built, self.nc)
                await make_live(self.engine, built.schema, previous)
                live = True
                self._set_generation(built.schema)
            finally:
                self.host.resume_projectors()
            grace = DROP_GRACE_S if self.drop_after_s is None else self.drop_after_s
            self.retiring = (previous, time.monotonic() + grace)
            final = {p.label: [p.checkpoint, p.checkpoint] for p in built.projectors}
            await report("switched", final)
            await settle(self.engine, request_id)
            log.info("read models rebuilt: generation %s is live", built.schema)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # The reason by type and our own message only: a handler's text may quote data.
            log.error("read models rebuild failed: %s", type(exc).__name__)
            reason = str(exc) if isinstance(exc, RebuildFailed) else type(exc).__name__
            await settle(self.engine, request_id, error=reason)
            if built is not None and not live:
                await drop_generation(self.engine, built.schema, self.projections)
