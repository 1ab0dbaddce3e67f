"""Spans are recorded only once something receives them, and a trace still follows a case
when nothing does: the ``traceparent`` stored with an event names its trace either way, and
a span continuing an unrecorded parent is recorded once an exporter listens."""

from __future__ import annotations

import pytest
from opentelemetry import propagate
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from shared.telemetry import ListenedTracerProvider, WhenListened

pytestmark = pytest.mark.domain


def test_spans_are_recorded_only_once_something_listens_and_keep_their_trace() -> None:
    provider = ListenedTracerProvider(sampler=WhenListened())
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("request") as unheard:
        assert not unheard.is_recording()
        assert unheard.get_span_context().is_valid
        stored: dict[str, str] = {}
        propagate.inject(stored)  # what an event keeps as its traceparent
    trace_id = stored["traceparent"].split("-")[1]

    spans = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(spans))  # an exporter is configured
    with tracer.start_as_current_span("next event", context=propagate.extract(stored)) as heard:
        assert heard.is_recording()
    (finished,) = spans.get_finished_spans()
    assert finished.name == "next event"
    assert f"{finished.context.trace_id:032x}" == trace_id  # the case's trace goes on
