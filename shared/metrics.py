"""Metrics in the Prometheus exposition format (``GET /metrics`` on every service).

Two kinds:

* counted as things happen, in this process (``prometheus-client``): HTTP request durations,
  append latency, events appended and applied, dead letters set aside, policy firings;
* read when scraped, from the service's own state (:func:`scrape`): projector lag and
  checkpoint per projection, dead letters in the database, access records waiting in the
  outbox. These hold for every instance alike, whichever applies the projections.

Labels carry route templates, stream and projection names, policy names and status codes:
never a concrete path (it may hold a child's name or an id typed in a search), never a
query, never an event's data.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Everything this process counts; each service process runs one service.
REGISTRY = CollectorRegistry(auto_describe=True)

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

http_duration = Histogram(
    "relais_http_request_duration_seconds",
    "HTTP requests answered, by method, route template and status",
    ["method", "route", "status"],
    buckets=_LATENCY_BUCKETS,
    registry=REGISTRY,
)
append_duration = Histogram(
    "relais_append_duration_seconds",
    "Time to append one command's events to the log (signed, chained, acknowledged)",
    ["stream"],
    buckets=_LATENCY_BUCKETS,
    registry=REGISTRY,
)
appended = Counter(
    "relais_appended_events", "Events appended to the log", ["stream"], registry=REGISTRY
)
append_duplicates = Counter(
    "relais_append_duplicates",
    "Retried appends recognised as already stored",
    ["stream"],
    registry=REGISTRY,
)
projected = Counter(
    "relais_projector_events",
    "Events applied by this process's projectors",
    ["projector"],
    registry=REGISTRY,
)
dead_lettered = Counter(
    "relais_projector_dead_lettered",
    "Events this process's projectors set aside as dead letters",
    ["projector"],
    registry=REGISTRY,
)
policy_firings = Counter(
    "relais_policy_firings",
    "Events appended by a background process: reactions to other contexts' events and "
    "deadline sweeps, by process",
    ["policy"],
    registry=REGISTRY,
)
gc_pauses = Histogram(
    "relais_gc_pause_seconds",
    "Garbage collections of this process, by generation: while one runs, no request moves "
    "(a full collection of a large heap paused every request for a third of a second)",
    ["generation"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1),
    registry=REGISTRY,
)

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

ASGIApp = Callable[
    [MutableMapping[str, Any], Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]],
    Awaitable[None],
]


class HttpMetrics:
    """ASGI middleware: the duration of every request by method, route *template* (the
    router's, read after routing) and status. A request that matched no route counts as
    ``unmatched``, whatever its path."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(
        self,
        scope: MutableMapping[str, Any],
        receive: Callable[[], Awaitable[Any]],
        send: Callable[[Any], Awaitable[None]],
    ) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Any) -> None:
            nonlocal status
            if message.get("type") == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            method = str(scope.get("method", ""))
            http_duration.labels(
                method if method in _METHODS else "other", route_template(scope), str(status)
            ).observe(time.perf_counter() - started)


def route_template(scope: MutableMapping[str, Any]) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) and path else "unmatched"


# -- read when scraped ------------------------------------------------------------------------


@dataclass(frozen=True)
class ProjectorState:
    projection: str
    stream: str
    checkpoint: int | None  # None: unknown (the database did not answer)
    stream_last: int | None  # None: unknown (NATS did not answer)
    dead_letters: int | None
    active: bool


@dataclass(frozen=True)
class ServiceState:
    service: str
    projectors: list[ProjectorState]
    access_records_pending: int | None


class _StateCollector(Collector):
    def __init__(self, state: ServiceState) -> None:
        self.state = state

    def collect(self) -> Iterable[Metric]:
        labels = ["projection", "stream"]
        lag = GaugeMetricFamily(
            "relais_projector_lag_events",
            "Events stored in the stream and not yet applied: last sequence minus checkpoint",
            labels=labels,
        )
        checkpoint = GaugeMetricFamily(
            "relais_projector_checkpoint",
            "The last stream sequence a projection applied",
            labels=labels,
        )
        active = GaugeMetricFamily(
            "relais_projector_active",
            "1 if this instance holds the projection's lease and applies it",
            labels=labels,
        )
        dead = GaugeMetricFamily(
            "relais_dead_letters",
            "Events a projection could not apply, kept in the dead-letter table",
            labels=labels,
        )
        for p in self.state.projectors:
            key = [p.projection, p.stream]
            active.add_metric(key, 1.0 if p.active else 0.0)
            if p.checkpoint is not None:
                checkpoint.add_metric(key, float(p.checkpoint))
                if p.stream_last is not None:
                    lag.add_metric(key, float(max(0, p.stream_last - p.checkpoint)))
            if p.dead_letters is not None:
                dead.add_metric(key, float(p.dead_letters))
        pending = GaugeMetricFamily(
            "relais_access_records_pending",
            "Reads of child records recorded in the outbox and not yet appended to AUDIT",
        )
        if self.state.access_records_pending is not None:
            pending.add_metric([], float(self.state.access_records_pending))
        yield from (lag, checkpoint, active, dead, pending)


def exposition(state: ServiceState, instances_dir: Path | None = None) -> bytes:
    """The whole ``/metrics`` answer: what this process counted (or, with ``instances_dir``,
    what every instance sharing its port counted, summed), then the service's state."""
    counted = REGISTRY
    if instances_dir is not None:
        # prometheus-client's multiprocess mode (on since import, from the environment):
        # each process writes its counts to files there; read, they add up.
        counted = CollectorRegistry(auto_describe=False)
        MultiProcessCollector(counted, path=str(instances_dir))  # type: ignore[no-untyped-call]
    scraped = CollectorRegistry(auto_describe=False)
    scraped.register(_StateCollector(state))
    return generate_latest(counted) + generate_latest(scraped)
