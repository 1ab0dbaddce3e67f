"""OpenTelemetry: one tracer and meter provider per process, and the backbone's instruments.

Span and metric attributes carry ids, types and counts only, never a child's data: the
instrumented code passes nothing else, and event payloads are never attached.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from opentelemetry import metrics as otel_metrics
from opentelemetry import trace
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    ConsoleMetricExporter,
    MetricReader,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)

log = logging.getLogger(__name__)
meter = otel_metrics.get_meter("relais")

_configured = False


class _Instruments:
    def __init__(self) -> None:
        self.append_latency = meter.create_histogram(
            "relais.append.latency", unit="ms", description="Time to append a command's events"
        )
        self.appended = meter.create_counter("relais.append.events", description="Events appended")
        self.append_duplicates = meter.create_counter(
            "relais.append.duplicates", description="Retried appends recognised as already stored"
        )
        self.projected = meter.create_counter(
            "relais.projector.events", description="Events applied by projectors"
        )
        self.dead_letters = meter.create_counter(
            "relais.projector.dead_letters", description="Events set aside as undecodable"
        )
        self.policy_firings = meter.create_counter(
            "relais.policy.firings", description="Events appended by deadline policies"
        )


metrics = _Instruments()

LagSource = Callable[[], Iterable[tuple[str, int]]]
_lag_sources: list[LagSource] = []


def _observe_lag(_options: CallbackOptions) -> Iterable[Observation]:
    for source in _lag_sources:
        for projector, lag in source():
            yield Observation(lag, {"projector": projector})


meter.create_observable_gauge(
    "relais.projector.lag",
    callbacks=[_observe_lag],
    description="Stream sequence minus the projector's checkpoint",
)


def register_lag_source(source: LagSource) -> None:
    _lag_sources.append(source)


def configure(service: str, instance: str, exporter: str, endpoint: str = "") -> None:
    """Install the process-wide providers once. ``exporter``: none, console or otlp."""
    global _configured
    if _configured:
        return
    _configured = True
    resource = Resource.create(
        {"service.name": f"relais-{service}", "service.instance.id": instance}
    )
    provider = TracerProvider(resource=resource)
    readers: list[MetricReader] = []
    span_exporter: SpanExporter | None = None
    if exporter == "console":
        span_exporter = ConsoleSpanExporter()
        provider.add_span_processor(SimpleSpanProcessor(span_exporter))
        readers.append(PeriodicExportingMetricReader(ConsoleMetricExporter(), 60_000))
    elif exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        base = endpoint.rstrip("/")
        provider.add_span_processor(
            BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{base}/v1/traces" if base else None))
        )
        readers.append(
            PeriodicExportingMetricReader(
                OTLPMetricExporter(endpoint=f"{base}/v1/metrics" if base else None)
            )
        )
    trace.set_tracer_provider(provider)
    otel_metrics.set_meter_provider(MeterProvider(resource=resource, metric_readers=readers))
    log.info("telemetry: exporter=%s", exporter)
