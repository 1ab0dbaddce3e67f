"""The reporting service's background loop for integrators: it rereads the registry
(``relais integrators`` edits it while everything runs) and keeps, for each active
integrator, its feed projectors, its durable consumer on PUBLIC and its webhook delivery;
a revoked integrator's are stopped and its consumer removed at once."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from zoneinfo import ZoneInfo

from services.reporting.app.public_feed import PUBLISHED_CONTEXTS, feed_projection, retire_feed
from services.reporting.app.webhooks import WebhookDelivery
from services.reporting.domain.webhook_signing import Retry
from services.reporting.read.webhooks import prepare_tables
from shared import integrators
from shared.integrators import Integrator
from shared.loops import repeat
from shared.projection import StreamProjector
from shared.projection_schema import prepare
from shared.service import Runtime
from shared.streams import PUBLIC, StreamMisconfigured, check_streams, describe, stream_name

log = logging.getLogger(__name__)


@dataclass
class Running:
    integrator: Integrator
    projectors: list[StreamProjector]
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


class FeedManager:
    def __init__(self, runtime: Runtime, *, webhook_poll_s: float = 1.0) -> None:
        assert runtime.nc is not None and runtime.engine is not None
        self.runtime = runtime
        self.settings = runtime.settings
        self.nc = runtime.nc
        self.js = runtime.nc.jetstream()
        self.engine = runtime.engine
        self.webhook_poll_s = webhook_poll_s
        self.running: dict[str, Running] = {}
        self._seen: tuple[float, int] | None = None

    async def run(self) -> None:
        # The operator creates the PUBLIC stream (relais up, relais streams apply).
        problems = await check_streams(
            self.js,
            self.settings.site,
            contexts=(PUBLIC,),
            replicas=self.settings.nats_replicas,
            public_retention_s=self.settings.public_retention_days * 86_400.0,
        )
        if problems:
            raise StreamMisconfigured(describe(problems))
        await prepare_tables(self.engine)
        # Revoked while reporting was away: their consumers go now.
        for integrator in integrators.load(self.settings.integrators_path).integrators.values():
            if not integrator.active:
                await retire_feed(self.js, integrator.name)
        try:
            await repeat(
                self.sync, interval_s=self.settings.integrators_poll_s, label="integrators"
            )
        finally:
            for name in list(self.running):
                await self._stop(name)

    async def sync(self) -> None:
        path = self.settings.integrators_path
        registry = integrators.load(path)
        active = {i.name: i for i in registry.active()}
        for name in [n for n in self.running if n not in active]:
            await self._stop(name)
            await retire_feed(self.js, name)
            log.info("integrator %s revoked: its feed stopped", name)
        for name, integrator in active.items():
            # Every turn, not only on a change: the consumer holds the integrator's position
            # and must exist whatever an operator did to it.
            await integrators.ensure_consumer(self.js, name)
            if name not in self.running:
                await self._start(integrator)
                log.info("integrator %s: feed started", name)

    async def _start(self, integrator: Integrator) -> None:
        s = self.settings
        projection = feed_projection(self.js, integrator, s.site, ZoneInfo(s.time_zone))
        await prepare(self.engine, projection)
        projectors = [
            StreamProjector(
                projection, stream_name(c), self.engine, self.js, batch_size=s.projector_batch
            )
            for c in PUBLISHED_CONTEXTS
        ]
        running = Running(integrator, projectors)
        for projector in projectors:
            running.tasks.append(asyncio.create_task(projector.run(), name=projector.label))
        if integrator.webhook is not None:
            delivery = WebhookDelivery(
                integrator,
                self.engine,
                self.nc,
                Retry(
                    s.webhook_first_retry_s,
                    s.webhook_max_backoff_s,
                    timedelta(hours=s.webhook_retry_hours),
                ),
                timeout_s=s.webhook_timeout_s,
                poll_s=self.webhook_poll_s,
            )
            running.tasks.append(
                asyncio.create_task(delivery.run(), name=f"webhook/{integrator.name}")
            )
        self.running[integrator.name] = running
        self.runtime.projectors.extend(projectors)

    async def _stop(self, name: str) -> None:
        running = self.running.pop(name)
        for task in running.tasks:
            task.cancel()
        await asyncio.gather(*running.tasks, return_exceptions=True)
        for projector in running.projectors:
            if projector in self.runtime.projectors:
                self.runtime.projectors.remove(projector)


async def run_public_feed(runtime: Runtime) -> None:
    """Background loop of the reporting service."""
    await FeedManager(runtime).run()
