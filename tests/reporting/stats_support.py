"""Running the reporting service over the generated data set, and reading its answers back
as tables the tests can compare with their own counts."""

from __future__ import annotations

import dataclasses
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import nats
from fastapi import FastAPI
from nats.aio.client import Client as NATS
from nats.js.errors import NotFoundError

from relais.embedded import NatsServer, free_port
from services.reporting.service import spec
from shared.auth import LocalIssuer
from shared.config import Settings
from shared.service import Runtime, ServiceSpec, create_app
from shared.streams import CONTEXTS

QUIET_SPEC = dataclasses.replace(spec, background=[])  # no feed, no report policy: tests drive


@asynccontextmanager
async def nats_for_module(tmp: Path) -> AsyncIterator[str]:
    """A nats-server of our own (the shared fixtures are per test), or NATS_URL emptied."""
    url = os.environ.get("NATS_URL")
    if url:
        client = await nats.connect(url)
        js = client.jetstream()
        for context in (*CONTEXTS, "public"):
            try:
                await js.delete_stream(context.upper())
            except NotFoundError:
                pass
        await client.close()
        yield url
        return
    server = NatsServer(tmp / "nats", port=free_port()).start()
    try:
        yield server.url
    finally:
        server.stop()


def settings_for(nats_url: str, pg_server_url: str, tmp: Path, **extra: Any) -> Settings:
    return Settings(
        nats_url=nats_url,
        database_url=pg_server_url,
        data_dir=tmp,
        database_prefix=f"t{uuid.uuid4().hex[:10]}_",
        **extra,
    )


async def caught_up(runtime: Runtime, nc: NATS, timeout: float = 30) -> None:
    js = nc.jetstream()
    for projector in runtime.projectors:
        last = (await js.stream_info(projector.stream)).state.last_seq
        assert await projector.wait_for(last, timeout), projector.label


@dataclass
class Reporting:
    app: FastAPI
    client: httpx.AsyncClient
    issuer: LocalIssuer

    @property
    def runtime(self) -> Runtime:
        runtime: Runtime = self.app.state.runtime
        return runtime

    def as_(self, role: str, *, lang: str | None = None, **headers: str) -> dict[str, str]:
        token = self.issuer.mint(user=f"u-{role}", agency="insae", roles=[role])
        out = {"Authorization": f"Bearer {token}", **headers}
        if lang:
            out["Accept-Language"] = lang
        return out


@asynccontextmanager
async def running(
    settings: Settings, service: ServiceSpec = QUIET_SPEC
) -> AsyncIterator[Reporting]:
    app = create_app(service, settings)
    await app.state.runtime.start()
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://reporting") as client:
            yield Reporting(app, client, LocalIssuer.load(settings.keys_dir))
    finally:
        await app.state.runtime.stop()


# -- answers as tables ----------------------------------------------------------------------


def dims_of(answer: dict[str, Any]) -> list[str]:
    return [d["code"] for d in answer["dimensions"]]


def cells(answer: dict[str, Any], column: str = "value") -> dict[tuple[str, ...], Any]:
    dims = dims_of(answer)
    return {tuple(row[d] for d in dims): row[column] for row in answer["rows"]}


def grid_of(answer: dict[str, Any]) -> list[list[Any]]:
    """A count answer back in the shape suppression works on: rows with their totals, then
    the column totals and the overall total."""
    dims = dims_of(answer)
    total = answer["total"]["value"]
    if not dims:
        return [[total, total], [total, total]]
    rows: list[tuple[str, ...]] = []
    columns: list[str] = []
    for entry in answer["rows"]:
        key = tuple(entry[d] for d in dims[:-1])
        if key not in rows:
            rows.append(key)
        if entry[dims[-1]] not in columns:
            columns.append(entry[dims[-1]])
    value = cells(answer)
    grid = [[value[(*row, column)] for column in columns] for row in rows]
    if len(dims) == 1:
        return [[*grid[0], total], [*grid[0], total]]
    row_totals = {tuple(e[d] for d in dims[:-1]): e["value"] for e in answer["row_totals"]}
    column_totals = {e[dims[-1]]: e["value"] for e in answer["column_totals"]}
    return [[*line, row_totals[row]] for line, row in zip(grid, rows, strict=True)] + [
        [*(column_totals[c] for c in columns), total]
    ]
