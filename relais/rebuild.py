"""``relais rebuild <service>``: drop a service's read models and replay them from the log,
with a progress bar. The service must be stopped (a running projector refuses the reset)."""

from __future__ import annotations

import asyncio
import importlib

import nats
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from shared.config import Settings
from shared.db import ensure_database, make_engine
from shared.projection import StreamProjector
from shared.projection_schema import ProjectionBusy, prepare, reset
from shared.service import ServiceSpec


def load_spec(service: str) -> ServiceSpec:
    spec: ServiceSpec = importlib.import_module(f"services.{service}.service").spec
    return spec


async def rebuild(
    service: str, settings: Settings, console: Console, spec: ServiceSpec | None = None
) -> int:
    spec = spec or load_spec(service)
    nc = await nats.connect(
        [u.strip() for u in settings.nats_url.split(",") if u.strip()],
        user=settings.nats_user or None,
        password=settings.nats_password or None,
        max_reconnect_attempts=2,
    )
    url = settings.database_url_for(service)
    await ensure_database(url)
    engine = make_engine(url, pool_size=4)
    js = nc.jetstream()
    try:
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        ) as progress:
            for projection in spec.projections:
                await prepare(engine, projection)
                await reset(engine, projection)
                for context in projection.contexts:
                    stream = context.upper()
                    last = int((await js.stream_info(stream)).state.last_seq)
                    task = progress.add_task(f"{projection.name} ← {stream}", total=last or 1)
                    projector = StreamProjector(projection, stream, engine, js)
                    runner = asyncio.create_task(projector.run(until_seq=last))
                    while not runner.done():
                        progress.update(task, completed=projector.checkpoint)
                        await asyncio.sleep(0.2)
                    await runner
                    progress.update(task, completed=last or 1)
        return 0
    except ProjectionBusy as exc:
        console.print(f"[red]{exc}[/] / arrêtez d'abord le service {service}.")
        return 1
    finally:
        await engine.dispose()
        await nc.close()
