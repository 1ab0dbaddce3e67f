"""``relais rebuild <service>``: rebuild a service's read models from the log, without
stopping it (docs/decisions/0015).

The command asks by inserting a row in the service's own database; a running instance claims
it within a second, builds the new read models beside the live ones, switches over and drops
the old, writing its progress in the row, which the command shows. If no instance claims it
(the service is stopped), the command does the same work itself. The database is found from
``DATABASE_URL``, or, for the embedded default, from the file ``relais up`` keeps in its data
directory while it runs (``relais-up.json``)."""

from __future__ import annotations

import asyncio
import importlib
import json
import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import nats
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from sqlalchemy import func, update

from shared.config import Settings
from shared.db import ensure_database, make_engine
from shared.generations import adopt_live, live_schema, prepare_fixed, rebuild_requests
from shared.rebuild import (
    DROP_GRACE_S,
    build_beside,
    drop_generation,
    finish,
    make_live,
    read_request,
    request,
    withdraw,
)
from shared.service import ServiceSpec

RUN_FILE = "relais-up.json"
CLAIM_WAIT_S = 5.0  # an instance checks for requests every second
ABANDONED_S = 60.0  # a running rebuild reports progress twice a second
POLL_S = 0.2


def load_spec(service: str) -> ServiceSpec:
    spec: ServiceSpec = importlib.import_module(f"services.{service}.service").spec
    return spec


class NoDatabase(RuntimeError):
    """Neither DATABASE_URL nor a running relais up says where the service's database is."""


@dataclass(frozen=True)
class Servers:
    database_url: str
    nats_url: str


def write_run_file(data_dir: Path, *, nats_url: str, database_url: str) -> Path:
    """What ``relais up`` tells the other commands while it runs: the embedded servers' URLs
    (which carry no password), or empty strings for external ones."""
    path = data_dir / RUN_FILE
    body = {"pid": os.getpid(), "nats_url": nats_url, "database_url": database_url}
    path.write_text(json.dumps(body) + "\n")
    path.chmod(0o600)
    return path


def find_servers(settings: Settings, data_dir: Path) -> Servers:
    if settings.database_url:
        return Servers(settings.database_url, settings.nats_url or "nats://127.0.0.1:4222")
    path = data_dir / RUN_FILE
    try:
        found = json.loads(path.read_text())
        os.kill(int(found["pid"]), 0)
        if found["database_url"]:
            nats_url = str(found["nats_url"]) or settings.nats_url or "nats://127.0.0.1:4222"
            return Servers(str(found["database_url"]), nats_url)
    except (OSError, ValueError, KeyError, TypeError):
        pass
    raise NoDatabase(
        f"DATABASE_URL is not set and relais up is not running in {data_dir} / "
        f"DATABASE_URL n'est pas défini et relais up ne tourne pas dans {data_dir}"
    )


async def rebuild(
    service: str,
    settings: Settings,
    console: Console,
    spec: ServiceSpec | None = None,
    *,
    data_dir: Path | None = None,
    nats_login: tuple[str, str] = ("", ""),
) -> int:
    """Rebuild ``service``'s read models; 0 when the new ones are live, 1 if it failed."""
    servers = find_servers(settings, data_dir or settings.data_dir)
    url = Settings(database_url=servers.database_url, database_prefix=settings.database_prefix)
    database = url.database_url_for(service)
    await ensure_database(database)
    engine = make_engine(database, pool_size=4)
    try:
        await prepare_fixed(engine)
        request_id = await request(engine)
        console.print(f"{service}: rebuild asked / reconstruction demandée (#{request_id})")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + CLAIM_WAIT_S
        with _progress(console) as progress:
            bars: dict[str, TaskID] = {}
            while True:
                row = await read_request(engine, request_id)
                assert row is not None
                unclaimed = row["status"] == "requested" and loop.time() > deadline
                if unclaimed and await withdraw(engine, request_id):
                    console.print(
                        f"{service} is not running: rebuilding here / "
                        f"{service} ne tourne pas : reconstruction ici"
                    )
                    return await _rebuild_here(
                        engine, spec or load_spec(service), servers, progress, bars, nats_login
                    )
                _show(progress, bars, row.get("progress") or {})
                if row["status"] == "done":
                    console.print(
                        f"{service}: new read models live ({row['generation']}); the old ones "
                        f"are dropped in {DROP_GRACE_S:.0f} s / nouvelles vues en service"
                    )
                    return 0
                if row["status"] == "running" and await abandoned(engine, request_id):
                    console.print(
                        f"[red]{service}: the instance rebuilding stopped; run the command again "
                        f"/ l'instance qui reconstruisait s'est arrêtée ; relancez la commande[/]"
                    )
                    return 1
                if row["status"] == "failed":
                    console.print(
                        f"[red]{service}: rebuild failed / échec de la reconstruction: "
                        f"{row['error']}[/]"
                    )
                    return 1
                await asyncio.sleep(POLL_S)
    finally:
        await engine.dispose()


async def abandoned(engine: Any, request_id: int) -> bool:
    """A running request with no progress for ABANDONED_S is marked failed (its instance
    stopped); True if so."""
    async with engine.begin() as conn:
        gone = await conn.execute(
            update(rebuild_requests)
            .where(rebuild_requests.c.id == request_id)
            .where(rebuild_requests.c.status == "running")
            .where(rebuild_requests.c.updated_at < func.now() - timedelta(seconds=ABANDONED_S))
            .values(status="failed", error="abandoned", finished_at=func.now())
        )
        return bool(gone.rowcount)


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


def _show(progress: Progress, bars: dict[str, TaskID], state: dict[str, Any]) -> None:
    for label, (applied, target) in sorted(state.items()):
        if label not in bars:
            bars[label] = progress.add_task(label.replace("/", " ← "), total=max(target, 1))
        progress.update(bars[label], completed=min(applied, max(target, 1)), total=max(target, 1))


async def _rebuild_here(
    engine: Any,
    spec: ServiceSpec,
    servers: Servers,
    progress: Progress,
    bars: dict[str, TaskID],
    login: tuple[str, str],
) -> int:
    """No instance runs: the same steps, done by this command."""
    nc = await nats.connect(
        [u.strip() for u in servers.nats_url.split(",") if u.strip()],
        user=login[0] or None,
        password=login[1] or None,
        max_reconnect_attempts=2,
    )
    try:
        previous = await adopt_live(engine)

        async def report(stage: str, state: dict[str, list[int]], **_: Any) -> None:
            _show(progress, bars, state)

        built = await build_beside(engine, nc, spec.projections, report=report)
        await finish(built, nc)
        await make_live(engine, built.schema, previous)
        _show(progress, bars, {p.label: [p.checkpoint, p.checkpoint] for p in built.projectors})
        async with engine.connect() as conn:
            assert await live_schema(conn) == built.schema
        await drop_generation(engine, previous, spec.projections)
        return 0
    finally:
        await nc.close()
