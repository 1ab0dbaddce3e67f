"""What every service process does the same way: connect to NATS and its own database, check
that the streams keep their guarantees (only the operator creates or changes them), publish
its signing key, run its projectors and its stream checkpoints, answer ``/health``, hand
commands to the event store with read-your-writes, and answer honestly when something fails
(:mod:`shared.outages`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import nats
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi_offline import FastAPIOffline
from nats.aio.client import Client as NATS
from sqlalchemy.ext.asyncio import AsyncEngine

from shared import (
    audit_events,  # noqa: F401 - every service reads and writes AUDIT
    nats_link,
    openapi,
    telemetry,
)
from shared import metrics as prom
from shared.access import AccessLog
from shared.anchors import checkpoint
from shared.auth import verifier_from_settings
from shared.commands import Commands
from shared.config import Settings, get_settings
from shared.db import ensure_database, make_engine
from shared.envelope import Actor, Aggregate
from shared.events import DomainEvent
from shared.eventstore import AppendResult, EventStore
from shared.forwarding import Forwarder, install_forwarding, serve_forwarded
from shared.generations import PUBLIC, adopt_live
from shared.health import HealthCheck
from shared.http import CommandChains, install_error_handlers
from shared.keys import publish_signing_key
from shared.loops import repeat
from shared.metrics_state import service_state
from shared.nats_store import NatsEventStore
from shared.outages import HonestAnswers
from shared.process import Clock, Process, utc_now
from shared.projection import Projection, StreamProjector
from shared.projection_schema import prepare
from shared.rebuild import Rebuilder
from shared.reference_api import router as reference_router
from shared.request_guard import RequestGuard
from shared.shedding import CommandShedding
from shared.signing import SigningKey
from shared.streams import CONTEXTS, StreamMisconfigured, check_streams, describe, stream_name
from shared.telemetry import firing, metrics
from shared.units import UnitLookup

log = logging.getLogger(__name__)


@dataclass
class ServiceSpec:
    """A service: its name, the context (stream) it owns, its read models and its routes."""

    name: str
    context: str
    title: str
    description: str = ""
    projections: Sequence[Projection] = ()
    routers: Sequence[APIRouter] = ()
    # Inboxes (react once to another context's events) and sweeps (flag deadlines once),
    # started once NATS, the database and the projectors are up, and cancelled at stop.
    processes: Sequence[Process] = ()
    # Other long-running work (the public feed's republisher), started the same way; it must
    # be safe on several instances at once and let CancelledError through.
    background: Sequence[Callable[[Runtime], Coroutine[Any, Any, None]]] = ()
    # Durable consumers of projectors run by background loops (the public feed), as
    # (stream, consumer name): declared so that the NATS accounts allow them.
    extra_consumers: Sequence[tuple[str, str]] = ()
    # Request body limits above the default (RELAIS_MAX_BODY_BYTES), by path prefix.
    body_limits: dict[str, int] = field(default_factory=dict)
    # Which agency a unit belongs to, from this service's copy of the directory: a token's
    # unit claim is checked with it; without one the claim is not trusted (shared.units).
    unit_agency: UnitLookup | None = None

    def consumers(self) -> list[tuple[str, str]]:
        """Every (stream, durable consumer) this service's projectors use."""
        found = {
            (stream_name(context), projection.consumer_name)
            for projection in self.projections
            for context in projection.contexts
        }
        return sorted(found | set(self.extra_consumers))

    def streams_read(self) -> tuple[str, ...]:
        """The contexts whose streams this service needs: its own, AUDIT, and those it
        projects."""
        contexts = {self.context, "audit"}
        for projection in self.projections:
            contexts.update(projection.contexts)
        return tuple(sorted(contexts))


class ReadYourWritesTimeout(RuntimeError):
    """The event is stored, but this service's read model has not caught up in time."""


@dataclass
class Runtime:
    spec: ServiceSpec
    settings: Settings
    nc: NATS | None = None
    store: EventStore | None = None
    engine: AsyncEngine | None = None
    access_log: AccessLog | None = None
    commands: Commands | None = None
    clock: Clock = utc_now
    projectors: list[StreamProjector] = field(default_factory=list)
    health_check: HealthCheck | None = None
    # The read models' live generation (shared/generations.py): "public" until a rebuild.
    generation: str = PUBLIC
    rebuilder: Rebuilder | None = None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _projecting: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def source(self) -> str:
        return f"/relais/{self.settings.site}/{self.spec.name}/{self.settings.instance}"

    async def start(self) -> None:
        s = self.settings
        telemetry.configure(self.spec.name, s.instance, s.otel_exporter, s.otel_endpoint)
        user, password = s.nats_login()
        self.nc = await nats_link.connect(
            # A comma-separated list names several cluster nodes.
            [u.strip() for u in s.nats_url.split(",") if u.strip()] or ["nats://127.0.0.1:4222"],
            name=f"relais-{self.spec.name}-{s.instance}",
            user=user,
            password=password,
        )
        js = self.nc.jetstream()
        # Only the operator creates or changes streams: a service refuses to run on a stream
        # that is missing or would let events be lost or rewritten.
        problems = await check_streams(
            js, s.site, contexts=self.spec.streams_read(), replicas=s.nats_replicas
        )
        if problems:
            log.error("refusing to start: %s", describe(problems))
            raise StreamMisconfigured(describe(problems))
        key = SigningKey.load_or_create(s.keys_dir / f"{self.spec.name}-{s.instance}.pem")
        self.store = NatsEventStore(
            self.nc,
            key=key,
            source=self.source,
            site=s.site,
            writable_contexts=(self.spec.context, "audit"),
            outage_wait_s=s.log_outage_wait_s,
        )
        await publish_signing_key(self.store)
        self.commands = Commands(
            self.store, site=s.site, settle=self.settle, on_stored=count_firing
        )

        url = s.database_url_for(self.spec.name)
        await ensure_database(url)
        self.engine = make_engine(url)
        self.generation = await adopt_live(self.engine)
        for projection in self.spec.projections:
            await prepare(self.engine, projection)
            for context in projection.contexts:
                projector = StreamProjector(
                    projection,
                    stream_name(context),
                    self.engine,
                    js,
                    batch_size=s.projector_batch,
                    generation=self.generation,
                    linger_s=s.projector_linger_ms / 1000,
                )
                self.projectors.append(projector)
        self.resume_projectors()
        self.rebuilder = Rebuilder(
            self, self.engine, self.nc, self.spec.projections, self.source, s.projector_batch
        )
        self._tasks.append(
            asyncio.create_task(
                repeat(self.rebuilder.step, interval_s=1.0, label="read models"),
                name="read-models",
            )
        )
        self.access_log = AccessLog(self.spec.name, self.engine, self.store)
        await self.access_log.prepare()
        self._tasks.append(asyncio.create_task(self.access_log.relay(), name="access-relay"))
        for process in self.spec.processes:
            self._tasks.append(asyncio.create_task(process.run(self), name=process.name))
        for loop in (*self.spec.background, _anchor_own_stream):
            name = getattr(loop, "__name__", "background")
            self._tasks.append(asyncio.create_task(loop(self), name=name))
        self.health_check = HealthCheck(self, contexts=(*CONTEXTS, *self.spec.streams_read()))
        log.info("%s started as %s", self.spec.name, self.source)

    def resume_projectors(self) -> None:
        """Start applying every projection (in the live generation)."""
        self._projecting = [asyncio.create_task(p.run(), name=p.label) for p in self.projectors]

    async def pause_projectors(self) -> None:
        """Stop applying, each projector at the end of a batch (its transaction and lease
        end with its task): a rebuild switches generations in between."""
        for task in self._projecting:
            task.cancel()
        if self._projecting:
            _, late = await asyncio.wait(self._projecting, timeout=5)
            for task in late:
                log.error("projector %s did not pause in time", task.get_name())
        self._projecting = []

    async def stop(self) -> None:
        for task in [*self._tasks, *self._projecting]:
            task.cancel()
        pending: set[asyncio.Task[None]] = {*self._tasks, *self._projecting}
        if pending:
            _, pending = await asyncio.wait(pending, timeout=0.5)
        # A cancellation does not always reach the task nats-py waits on inside a pull fetch;
        # closing the connection always ends it (and the loops then see they were cancelled).
        if self.nc is not None and not self.nc.is_closed:
            try:
                if self.nc.is_connected:
                    await self.nc.flush(timeout=2)
                await self.nc.close()
            except (OSError, nats.errors.Error) as exc:  # shutting down regardless
                log.warning("NATS close: %s", type(exc).__name__)
        if pending:
            _, pending = await asyncio.wait(pending, timeout=5)
        for task in pending:
            log.error("task %s did not stop in time", task.get_name())
        if self.engine is not None:
            await self.engine.dispose()

    async def settle(self, stream: str, seq: int) -> None:
        """Read-your-writes: wait until this service's read models of ``stream`` have applied
        ``seq``; :class:`ReadYourWritesTimeout` if they do not in time (the events are
        stored all the same)."""
        waiting = [p for p in self.projectors if p.stream == stream]
        try:
            done = await asyncio.gather(
                *(p.wait_for(seq, self.settings.read_your_writes_timeout_s) for p in waiting)
            )
        except Exception as exc:  # the database went away: stored all the same
            raise ReadYourWritesTimeout(f"{stream}:{seq}") from exc
        if not all(done):
            raise ReadYourWritesTimeout(f"{stream}:{seq}")

    async def commit(
        self,
        aggregate: Aggregate,
        expected_version: int,
        events: Sequence[DomainEvent],
        *,
        actor: Actor,
        idempotency_key: str | None = None,
        correlation_id: str | None = None,
        causation_id: str | None = None,
    ) -> AppendResult:
        """Append, then wait until this service's read models show the new events. (Services
        append through ``commands``; this is the backbone's and the tests' direct way.)"""
        assert self.store is not None
        result = await self.store.append(
            aggregate,
            expected_version,
            events,
            actor=actor,
            idempotency_key=idempotency_key,
            correlation_id=correlation_id,
            causation_id=causation_id,
        )
        count_firing(actor, result)
        await self.settle(aggregate.stream, result.events[-1].seq)
        return result

    async def health(self) -> tuple[bool, dict[str, Any]]:
        if self.health_check is None:
            return False, {"service": self.spec.name, "status": "starting", "problems": []}
        return await self.health_check.run()


def count_firing(actor: Actor, result: AppendResult) -> None:
    """A policy's or process's append counts as a firing (the policy-firing metric); a
    person's command or a retry found stored does not."""
    policy = firing(actor.user, actor.role)
    if policy is not None and not result.duplicate:
        metrics.policy_firings.add(len(result.events), {"policy": policy})


async def _anchor_own_stream(runtime: Runtime) -> None:
    """Checkpoint this service's own stream on AUDIT now and then (anchored heads)."""
    store = runtime.store
    assert isinstance(store, NatsEventStore)  # checkpoints read the stream on the server
    stream = stream_name(runtime.spec.context)
    await repeat(
        lambda: checkpoint(store, stream),
        interval_s=runtime.settings.checkpoint_interval_s,
        label=f"checkpoint of {stream}",
    )


def create_app(
    spec: ServiceSpec, settings: Settings | None = None, *, clock: Clock | None = None
) -> FastAPI:
    """The service's app; ``clock`` is the time its commands and processes read (tests give
    their own)."""
    settings = settings or get_settings()
    runtime = Runtime(spec, settings, clock=clock or utc_now)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        assert runtime.nc is not None
        # Commands other sites forward to this one, the owner of their aggregates.
        forwarded = await serve_forwarded(runtime.nc, app, site=settings.site, service=spec.name)
        try:
            yield
        finally:
            with suppress(Exception):
                await forwarded.unsubscribe()
            await runtime.stop()

    # The documentation pages load their scripts and styles from the package, not a CDN:
    # /docs works where the service has no internet.
    app = FastAPIOffline(
        title=spec.title,
        description=spec.description,
        lifespan=lifespan,
        swagger_ui_parameters={"validatorUrl": None},
    )
    app.state.runtime = runtime
    app.state.verifier = verifier_from_settings(
        jwks_url=settings.jwks_url,
        jwks_file=settings.jwks_file,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        keys_dir=settings.keys_dir,
    )
    install_error_handlers(app)
    install_forwarding(app, Forwarder(lambda: runtime.nc, site=settings.site, service=spec.name))

    @app.get("/health", tags=["operations"])
    async def health(request: Request) -> JSONResponse:
        ok, body = await runtime.health()
        return JSONResponse(body, status_code=200 if ok else 503)

    @app.get("/metrics", tags=["operations"], response_class=Response)
    async def metrics_endpoint() -> Response:
        """Prometheus metrics: request durations by route template, append latency,
        projector lag and dead letters per projection, policy firings, access records
        waiting to be appended to AUDIT. No label holds a concrete path or a child's data."""
        state = await service_state(spec.name, runtime.nc, runtime.engine, runtime.projectors)
        body = prom.exposition(state, settings.metrics_dir)
        return Response(body, media_type=prom.CONTENT_TYPE)

    @app.get("/asyncapi.json", tags=["operations"])
    async def asyncapi_document() -> JSONResponse:
        """The events integrators can subscribe to (AsyncAPI 3.0)."""
        return JSONResponse(_asyncapi(settings))

    for router in spec.routers:
        app.include_router(router)
    # Every service serves the code lists, and documents what it really answers.
    app.include_router(reference_router)
    openapi.install(app)

    # Every body is checked (size, NUL, byte-order mark, duplicate keys) before any route.
    app.add_middleware(
        RequestGuard, max_body_bytes=settings.max_body_bytes, route_limits=spec.body_limits
    )

    # What the request stored is noted in its ledger; whatever fails afterwards, the answer
    # says what happened (shared/outages.py). Inside the tracing middleware (added after
    # this one), so an exception's text (which may quote a child's data) is never recorded
    # on a span.
    app.add_middleware(HonestAnswers)

    instrument(app)
    # Overload is shed before any route, token check or append (decision 0026); outside it,
    # the metrics still count the 503s.
    app.add_middleware(CommandShedding, limit=settings.commands_in_flight_for(spec.name))
    app.add_middleware(prom.HttpMetrics)
    # Added last, so outermost: the request's chain is in place before anything else runs.
    app.add_middleware(CommandChains)
    return app


def _asyncapi(settings: Settings) -> dict[str, Any]:
    # Every event type is registered, the public ones too: each service imports
    # ``contracts``, which loads them all.
    from shared.asyncapi import build_asyncapi, server_url

    return build_asyncapi(server=server_url(settings))


def instrument(app: FastAPI) -> None:
    """Trace requests, keeping no concrete URL (only the route template)."""
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
    from opentelemetry.metrics import NoOpMeterProvider

    # Its own HTTP metrics would carry the host and port; shared/metrics.py counts requests.
    FastAPIInstrumentor.instrument_app(
        app,
        excluded_urls="health,metrics",
        server_request_hook=_redact_query,
        meter_provider=NoOpMeterProvider(),
    )


def _redact_query(span: Any, scope: dict[str, Any]) -> None:
    """A request's path and query can carry a child's name (a search, a mistyped id): spans
    keep the route template in their name and nothing of the concrete URL."""
    if span is None or not span.is_recording():
        return
    span.set_attribute("http.target", "redacted")
    span.set_attribute("url.path", "redacted")
    if scope.get("query_string"):
        span.set_attribute("url.query", "redacted")
    for key in ("http.url", "url.full"):
        span.set_attribute(key, f"{scope.get('scheme', 'http')}://redacted")
