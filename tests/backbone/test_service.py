"""A service process's shared behaviour: health, read-your-writes, errors people can read."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy import select

from relais.embedded import NatsServer
from shared.config import Settings
from shared.envelope import Aggregate
from shared.service import ServiceSpec, create_app
from tests import lab
from tests.backbone.helpers import ACTOR

pytestmark = pytest.mark.connected

router = APIRouter()


class Body(BaseModel):
    label: str = Field(min_length=1, max_length=10)
    age: int = Field(ge=0, le=17)


@router.post("/counters")
async def make_counter(body: Body) -> dict[str, str]:
    return {"label": body.label}


@router.get("/boom")
async def boom() -> None:
    raise RuntimeError("secret child name Aminata")


@pytest.fixture
async def service(nats_url: str, pg_server_url: str, tmp_path) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(
        nats_url=nats_url,
        database_url=pg_server_url,
        database_prefix=f"t{uuid.uuid4().hex[:10]}_",
        data_dir=tmp_path,
    )
    spec = ServiceSpec(
        name="lab", context="lab", title="lab", projections=[lab.projection], routers=[router]
    )
    app = create_app(spec, settings)
    await app.state.runtime.start()
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://lab") as client:
        client.app = app  # type: ignore[attr-defined]
        yield client
    await app.state.runtime.stop()


async def test_health_reports_nats_database_and_projectors(service: httpx.AsyncClient) -> None:
    answer = await service.get("/health")
    assert answer.status_code == 200
    body = answer.json()
    assert body["nats"]["connected"] and body["database"]["connected"]
    assert body["projectors"][0]["projection"] == "lab.totals"
    assert body["projectors"][0]["dead_letters"] == 0


async def test_health_is_503_when_nats_is_gone(
    service: httpx.AsyncClient, nats_server: NatsServer | None
) -> None:
    if nats_server is None:
        return  # an external server is not ours to stop
    nats_server.stop()
    answer = await service.get("/health")
    assert answer.status_code == 503
    assert answer.json()["nats"]["connected"] is False


async def test_commit_answers_after_the_read_model_shows_the_events(
    service: httpx.AsyncClient,
) -> None:
    runtime = service.app.state.runtime  # type: ignore[attr-defined]
    agg = Aggregate("lab", "hq", "counter", "ryw")
    version = 0
    for i in range(20):
        result = await runtime.commit(
            agg,
            version,
            [lab.CounterMoved(amount=1, unit="u")] if i else [lab.CounterOpened(label="r")],
            actor=ACTOR,
        )
        async with runtime.engine.connect() as conn:
            row = (
                await conn.execute(select(lab.totals).where(lab.totals.c.counter == "ryw"))
            ).one()
        assert row.events == i + 1 and row.last_seq == result.head.seq
        version = result.head.seq


async def test_invalid_body_names_field_and_reason_in_french_by_default(
    service: httpx.AsyncClient,
) -> None:
    answer = await service.post("/counters", json={"label": "", "age": 19, "extra": 1})
    assert answer.status_code == 422
    fields = {f["field"]: f["reason"] for f in answer.json()["error"]["fields"]}
    assert fields["label"].startswith("Trop court")
    assert fields["age"] == "Doit être inférieur ou égal à 17."
    english = await service.post(
        "/counters", json={"age": "old"}, headers={"Accept-Language": "en-GB,en;q=0.9"}
    )
    fields = {f["field"]: f["reason"] for f in english.json()["error"]["fields"]}
    assert fields == {"label": "This field is required.", "age": "A whole number is expected."}


async def test_malformed_json_and_unknown_routes_get_clear_answers(
    service: httpx.AsyncClient,
) -> None:
    bad = await service.post(
        "/counters",
        content=b"{not json",
        headers={"content-type": "application/json", "Accept-Language": "en"},
    )
    assert bad.status_code == 422
    assert bad.json()["error"]["fields"][0]["reason"] == "The body is not valid JSON."
    missing = await service.get("/nowhere", headers={"Accept-Language": "en"})
    assert missing.status_code == 404 and missing.json()["error"]["message"] == "Not found."


async def test_unexpected_errors_hide_their_details(
    service: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    answer = await service.get("/boom")
    assert answer.status_code == 500
    assert "Aminata" not in answer.text and "Traceback" not in answer.text
    assert "Aminata" not in caplog.text


async def test_asyncapi_document_is_served(service: httpx.AsyncClient) -> None:
    doc = (await service.get("/asyncapi.json")).json()
    assert "lab.CounterMoved" in doc["channels"]


@pytest.fixture
def spans() -> Any:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield exporter
    exporter.shutdown()


def spans_text(exporter: Any) -> str:
    finished = exporter.get_finished_spans()
    assert finished, "the requests should be traced"
    return " ".join(span.to_json() for span in finished)


async def test_search_terms_never_reach_traces(service: httpx.AsyncClient, spans: Any) -> None:
    await service.post(
        "/counters?name=Aminata%20Kossi&dob=2014-03-02", json={"label": "x", "age": 3}
    )
    await service.get("/nowhere/Aminata%20Kossi")  # a name typed where an id goes
    text = spans_text(spans)
    assert "Aminata" not in text and "2014-03-02" not in text
    assert "/counters" in text  # the route template names the span


async def test_an_unexpected_errors_text_never_reaches_traces(
    service: httpx.AsyncClient, spans: Any
) -> None:
    answer = await service.get("/boom")
    assert answer.status_code == 500
    text = spans_text(spans)
    assert "Aminata" not in text and "Traceback" not in text
