"""What every service process does the same way: connect to NATS and its own database, make
sure the streams are safe, publish its signing key, run its projectors, answer ``/health``,
and hand commands to the event store with read-your-writes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import nats
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from nats.aio.client import Client as NATS
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared import (
    audit_events,  # noqa: F401 - every service reads and writes AUDIT
    telemetry,
)
from shared.access import AccessLog
from shared.auth import verifier_from_settings
from shared.config import Settings, get_settings
from shared.db import ensure_database, make_engine
from shared.envelope import Actor, Aggregate
from shared.events import DomainEvent
from shared.eventstore import AppendResult, EventStore
from shared.http import install_error_handlers, refuse_nul_characters, unexpected_error
from shared.keys import publish_signing_key
from shared.projection import Projection, StreamProjector
from shared.projection_schema import prepare
from shared.signing import SigningKey
from shared.streams import ensure_streams, stream_name

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
    # Long-running loops (deadline policies, process managers), each started with the
    # runtime once NATS, the database and the projectors are up, and cancelled at stop.
    # A loop must be safe to run on several instances at once (deterministic idempotency
    # keys and expected versions), and must let CancelledError through.
    background: Sequence[Callable[[Runtime], Coroutine[Any, Any, None]]] = ()


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
    projectors: list[StreamProjector] = field(default_factory=list)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def source(self) -> str:
        return f"/relais/{self.settings.site}/{self.spec.name}/{self.settings.instance}"

    async def start(self) -> None:
        s = self.settings
        telemetry.configure(self.spec.name, s.instance, s.otel_exporter, s.otel_endpoint)
        self.nc = await nats.connect(
            # A comma-separated list names several cluster nodes.
            [u.strip() for u in s.nats_url.split(",") if u.strip()] or "nats://127.0.0.1:4222",
            name=f"relais-{self.spec.name}-{s.instance}",
            user=s.nats_user or None,
            password=s.nats_password or None,
            max_reconnect_attempts=-1,
            reconnect_time_wait=1,
            error_cb=_nats_error,
            disconnected_cb=_nats_disconnected,
            reconnected_cb=_nats_reconnected,
        )
        js = self.nc.jetstream()
        await ensure_streams(
            js,
            s.site,
            contexts=(self.spec.context, "audit"),
            replicas=s.nats_replicas,
            duplicate_window_s=s.duplicate_window_s,
        )
        key = SigningKey.load_or_create(s.keys_dir / f"{self.spec.name}-{s.instance}.pem")
        self.store = EventStore(
            self.nc,
            key=key,
            source=self.source,
            site=s.site,
            writable_contexts=(self.spec.context, "audit"),
        )
        await publish_signing_key(self.store)

        url = s.database_url_for(self.spec.name)
        await ensure_database(url)
        self.engine = make_engine(url)
        for projection in self.spec.projections:
            await prepare(self.engine, projection)
            for context in projection.contexts:
                projector = StreamProjector(
                    projection,
                    stream_name(context),
                    self.engine,
                    js,
                    batch_size=s.projector_batch,
                )
                self.projectors.append(projector)
                self._tasks.append(asyncio.create_task(projector.run(), name=projector.label))
        self.access_log = AccessLog(self.spec.name, self.engine, self.store)
        await self.access_log.prepare()
        self._tasks.append(asyncio.create_task(self.access_log.relay(), name="access-relay"))
        for loop in self.spec.background:
            name = getattr(loop, "__name__", "background")
            self._tasks.append(asyncio.create_task(loop(self), name=name))
        telemetry.register_lag_source(lambda: [(p.label, p.pending) for p in self.projectors])
        log.info("%s started as %s", self.spec.name, self.source)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        pending: set[asyncio.Task[None]] = set(self._tasks)
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
        """Append, then wait until this service's read models show the new events."""
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
        last = result.events[-1].seq
        waiting = [p for p in self.projectors if p.stream == aggregate.stream]
        done = await asyncio.gather(
            *(p.wait_for(last, self.settings.read_your_writes_timeout_s) for p in waiting)
        )
        if not all(done):
            raise ReadYourWritesTimeout(f"{aggregate.stream}:{last}")
        return result

    async def health(self) -> tuple[bool, dict[str, Any]]:
        nats_ok = self.nc is not None and self.nc.is_connected
        db_ok = False
        if self.engine is not None:
            try:
                async with self.engine.connect() as conn:
                    await asyncio.wait_for(conn.execute(text("SELECT 1")), 2)
                db_ok = True
            except Exception as exc:  # health reports it; it must not raise
                log.warning("health: database unreachable (%s)", type(exc).__name__)
        last_seqs: dict[str, int] = {}
        if nats_ok and self.nc is not None:
            js = self.nc.jetstream(timeout=2)
            for stream in {p.stream for p in self.projectors}:
                try:
                    last_seqs[stream] = int((await js.stream_info(stream)).state.last_seq)
                except Exception:
                    nats_ok = False
        projectors = [
            {
                "projection": p.projection.name,
                "stream": p.stream,
                "checkpoint": p.checkpoint,
                "lag": max(0, last_seqs.get(p.stream, p.checkpoint) - p.checkpoint)
                if p.active
                else None,
                "active": p.active,
                "dead_letters": p.dead_letter_count,
            }
            for p in self.projectors
        ]
        ok = nats_ok and db_ok
        return ok, {
            "service": self.spec.name,
            "status": "ok" if ok else "unavailable",
            "site": self.settings.site,
            "instance": self.settings.instance,
            "source": self.source,
            "nats": {"connected": nats_ok},
            "database": {"connected": db_ok},
            "projectors": projectors,
        }


async def _nats_error(exc: Exception) -> None:
    log.warning("NATS: %s", type(exc).__name__)


async def _nats_disconnected() -> None:
    log.warning("NATS: disconnected; reconnecting")


async def _nats_reconnected() -> None:
    log.warning("NATS: reconnected")


def create_app(spec: ServiceSpec, settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    runtime = Runtime(spec, settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(title=spec.title, description=spec.description, lifespan=lifespan)
    app.state.runtime = runtime
    app.state.verifier = verifier_from_settings(
        jwks_url=settings.jwks_url,
        jwks_file=settings.jwks_file,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        keys_dir=settings.keys_dir,
    )
    install_error_handlers(app)
    refuse_nul_characters(app)

    @app.get("/health", tags=["operations"])
    async def health(request: Request) -> JSONResponse:
        ok, body = await runtime.health()
        return JSONResponse(body, status_code=200 if ok else 503)

    @app.get("/asyncapi.json", tags=["operations"])
    async def asyncapi_document() -> JSONResponse:
        """The events integrators can subscribe to (AsyncAPI 3.0)."""
        return JSONResponse(_asyncapi())

    for router in spec.routers:
        app.include_router(router)

    @app.middleware("http")
    async def contain_unexpected(request: Request, call_next: Any) -> Any:
        # Inside the tracing middleware (added after this one): an unexpected error becomes
        # the 500 answer here, so its text (which may quote a child's data) is never
        # recorded on a span; Starlette's own handler would re-raise it to the tracer.
        try:
            return await call_next(request)
        except Exception as exc:
            return await unexpected_error(request, exc)

    instrument(app)
    return app


def _asyncapi() -> dict[str, Any]:
    # Every event type is registered: each service imports ``contracts``, which loads them all.
    from shared.asyncapi import build_asyncapi

    return build_asyncapi()


def instrument(app: FastAPI) -> None:
    """Trace requests, keeping no concrete URL (only the route template)."""
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(
        app, excluded_urls="health", server_request_hook=_redact_query
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
