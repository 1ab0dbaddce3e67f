"""OpenTelemetry traces: one tracer provider per process, and how a trace follows a child's
case (docs/decisions/0016); and the backbone's instruments, which count into the Prometheus
metrics every service serves on ``GET /metrics`` (``shared/metrics.py``).

A trace follows the records of a case, not only one request:

* an event of a record that exists continues its record's trace (the trace of the record's
  previous event, as stored in its ``traceparent``), linked to what caused it (the HTTP
  request, a reaction); a record's first event starts in the trace of what caused it;
* a reaction to another context's event continues that event's trace
  (:func:`continue_trace`), so the record it creates (the case opened from a report, the
  referral made from a request) belongs to the trace of the record that asked.

A hotline report, its screening, the case opened from it and the referral the case asks for
are therefore one trace.

Span and metric attributes carry ids, types and counts only, never a child's data: the
instrumented code passes nothing else, and event payloads are never attached.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
)
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, Sampler, SamplingResult
from opentelemetry.trace import Link, SpanKind, Status, StatusCode
from opentelemetry.util.types import Attributes
from prometheus_client import Counter, Histogram

from shared import metrics as prom

log = logging.getLogger(__name__)
tracer = trace.get_tracer("relais.reactions")

_configured = False


def stored_context(traceparent: object) -> Context | None:
    """The trace context a stored ``traceparent`` names; None if it names none."""
    if not isinstance(traceparent, str) or not traceparent:
        return None
    context = propagate.extract({"traceparent": traceparent})
    return context if trace.get_current_span(context).get_span_context().is_valid else None


def record_trace(traceparent: object) -> tuple[Context | None, list[Link]]:
    """Where an append to an existing record starts its span: in the record's trace (the
    ``traceparent`` its previous event stored), linked to the span running now (the request
    or reaction that caused it). ``(None, [])``: where it runs now (a new record, or a record
    whose events carry no trace)."""
    record = stored_context(traceparent)
    if record is None:
        return None, []
    current = trace.get_current_span().get_span_context()
    same = current.trace_id == trace.get_current_span(record).get_span_context().trace_id
    return record, [Link(current)] if current.is_valid and not same else []


_reaction: ContextVar[str | None] = ContextVar("relais_reaction", default=None)


def firing(actor_user: str, actor_role: str) -> str | None:
    """The background process an append is a firing of, for ``relais_policy_firings``: the
    reaction running (:func:`continue_trace`), or a system actor's process (a sweep); None
    for a person's command."""
    running = _reaction.get()
    if running is not None:
        return running
    return actor_user.removeprefix("system:") if actor_role == "system" else None


@contextmanager
def continue_trace(
    reaction: str, causing: Mapping[Any, Any] | None, **attributes: str | int
) -> Iterator[trace.Span]:
    """Run a reaction to another context's event inside that event's trace (span
    ``react <reaction>``); its appends count as firings of ``reaction``.

    ``causing``: the causing event's envelope, or any mapping holding its stored
    ``traceparent`` (a pending row's). ``attributes``: ids and types only, never data. An
    error is recorded by its type alone: its text may quote a child's data."""
    traceparent = (causing or {}).get("traceparent")
    token = _reaction.set(reaction)
    with tracer.start_as_current_span(
        f"react {reaction}",
        context=stored_context(traceparent) or Context(),
        kind=SpanKind.CONSUMER,
        attributes={"relais.reaction": reaction, **attributes},
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        try:
            yield span
        except BaseException as exc:
            span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            raise
        finally:
            _reaction.reset(token)


class _Labelled:
    """A Prometheus metric's child per set of label values, looked up once: ``labels()``
    checks and locks on every call, and every append counts twice. The label values are
    streams, projections and policies: a few dozen at most."""

    def __init__(self, metric: Counter | Histogram) -> None:
        self.metric = metric
        self._children: dict[tuple[str, ...], Any] = {}

    def child(self, attributes: Mapping[str, str]) -> Any:
        key = tuple(attributes.values())
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = self.metric.labels(**attributes)
        return found


class _Count(_Labelled):
    """``add(amount, attributes)``, counted into a Prometheus counter by its labels."""

    def add(self, amount: float, attributes: Mapping[str, str]) -> None:
        self.child(attributes).inc(amount)


class _Milliseconds(_Labelled):
    """``record(ms, attributes)``, observed in seconds into a Prometheus histogram."""

    def record(self, ms: float, attributes: Mapping[str, str]) -> None:
        self.child(attributes).observe(ms / 1000)


class _Instruments:
    def __init__(self) -> None:
        self.append_latency = _Milliseconds(prom.append_duration)
        self.appended = _Count(prom.appended)
        self.append_duplicates = _Count(prom.append_duplicates)
        self.projected = _Count(prom.projected)
        self.dead_letters = _Count(prom.dead_lettered)
        self.policy_firings = _Count(prom.policy_firings)


metrics = _Instruments()


class WhenListened(Sampler):
    """Records every span once something receives spans (a span processor was added), none
    before. With no exporter a recorded span is made for nobody: its attributes, its end and
    its processing cost every request and every projected event. Its ids are made either
    way, so the ``traceparent`` stored with an event still names its trace; and a span whose
    stored parent was not recorded is recorded once an exporter is configured (not
    parent-based), so the cases of the days before still show."""

    def __init__(self) -> None:
        self.listened = False

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Any = None,
        trace_state: Any = None,
    ) -> SamplingResult:
        chosen = ALWAYS_ON if self.listened else ALWAYS_OFF
        return chosen.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )

    def get_description(self) -> str:
        return "WhenListened"


class ListenedTracerProvider(TracerProvider):
    """A tracer provider whose :class:`WhenListened` sampler starts recording as soon as a
    span processor (an exporter's, a test's) is added to it."""

    def add_span_processor(self, span_processor: SpanProcessor) -> None:
        super().add_span_processor(span_processor)
        if isinstance(self.sampler, WhenListened):
            self.sampler.listened = True


def configure(service: str, instance: str, exporter: str, endpoint: str = "") -> None:
    """Install the process-wide tracer provider once. ``exporter``: none, console or otlp.
    (Metrics are scraped from ``/metrics``; an OpenTelemetry collector reads them with its
    Prometheus receiver.)"""
    global _configured
    if _configured:
        return
    _configured = True
    resource = Resource.create(
        {"service.name": f"relais-{service}", "service.instance.id": instance}
    )
    provider = ListenedTracerProvider(resource=resource, sampler=WhenListened())
    if exporter == "console":
        provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
    elif exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        base = endpoint.rstrip("/")
        provider.add_span_processor(
            BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{base}/v1/traces" if base else None))
        )
    trace.set_tracer_provider(provider)
    log.info("telemetry: exporter=%s", exporter)
