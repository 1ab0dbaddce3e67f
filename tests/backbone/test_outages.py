"""Honest answers, whatever fails: stored then late or cut off is 202 with the resource's
id and location; not stored is 503 naming the cause, with Retry-After, and never applied
later; an answer lost on the way is settled by asking the log again, stored once. And the
bodies every route refuses before reading them: too large, a byte-order mark, a key twice."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
import nats
import pytest
from fastapi import APIRouter, Request
from pydantic import BaseModel

from relais.embedded import NatsServer
from shared.config import Settings
from shared.envelope import Aggregate
from shared.eventstore import LogUnavailable
from shared.http import idempotency_key
from shared.ids import derived_id, new_id
from shared.nats_link import connect as connect_service
from shared.nats_link import drop_buffered_publishes
from shared.nats_store import NatsEventStore, _Unanswered
from shared.reading import iter_stored
from shared.service import ServiceSpec, create_app
from tests import lab
from tests.backbone.helpers import ACTOR, ClosedUnderneath, lab_store

pytestmark = pytest.mark.connected

router = APIRouter()


class Opening(BaseModel):
    label: str


def _runtime(request: Request) -> Any:
    return request.app.state.runtime


@router.post("/counters", status_code=201)
async def open_counter(body: Opening, request: Request) -> dict[str, Any]:
    runtime = _runtime(request)
    key = idempotency_key(request)
    counter_id = derived_id("lab.counter", key) if key else new_id()
    agg = Aggregate("lab", "hq", "counter", counter_id)
    await runtime.commit(
        agg, 0, [lab.CounterOpened(label=body.label)], actor=ACTOR, idempotency_key=key
    )
    return {"counter_id": counter_id}


@router.get("/counters/{counter_id}")
async def read_counter(counter_id: str) -> dict[str, str]:
    return {"counter_id": counter_id}


@router.get("/reads-the-database")
async def reads(request: Request) -> None:
    async with _runtime(request).engine.connect():
        pass


def stop_read_model(runtime: Any, failure: BaseException | None = None) -> None:
    """The read model stops following (or, with ``failure``, its database is gone)."""

    async def late(seq: int, timeout: float) -> bool:
        if failure is not None:
            raise failure
        return False

    for projector in runtime.projectors:
        projector.wait_for = late


@pytest.fixture
async def service(
    nats_url: str, pg_server_url: str, tmp_path: Any
) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(
        nats_url=nats_url,
        database_url=pg_server_url,
        database_prefix=f"t{uuid.uuid4().hex[:10]}_",
        data_dir=tmp_path,
        read_your_writes_timeout_s=0.5,
        log_outage_wait_s=3,
    )
    spec = ServiceSpec(
        name="lab",
        context="lab",
        title="lab",
        projections=[lab.projection],
        routers=[router],
        body_limits={"/large": 3_000_000},
    )
    app = create_app(spec, settings)
    await app.state.runtime.start()
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://lab") as client:
        client.app = app  # type: ignore[attr-defined]
        yield client
    await app.state.runtime.stop()


async def stored_labels(nats_url: str) -> list[str]:
    nc = await nats.connect(nats_url)
    try:
        return [
            json.loads(msg.data)["data"]["label"]
            async for _, _, msg in iter_stored(nc, "LAB", "lab.*.counter.*.CounterOpened")
        ]
    finally:
        await nc.close()


async def test_log_down_answers_503_naming_it_and_nothing_is_stored_later(
    service: httpx.AsyncClient, nats_server: NatsServer | None, nats_url: str
) -> None:
    if nats_server is None:
        pytest.skip("an external server is not ours to stop")
    nats_server.stop()
    # The service has seen the connection go (a publish sent before it notices is settled
    # another way: settled or, if the log stays away, 504 outcome unknown).
    runtime = service.app.state.runtime  # type: ignore[attr-defined]
    for _ in range(100):
        if not runtime.nc.is_connected:
            break
        await asyncio.sleep(0.05)
    answer = await service.post(
        "/counters",
        json={"label": "during"},
        headers={"Accept-Language": "en", "Idempotency-Key": "k1"},
    )
    assert answer.status_code == 503, answer.text
    assert answer.headers["Retry-After"] == "5"
    error = answer.json()["error"]
    assert error["code"] == "log_unavailable" and error["cause"] == "log"
    assert error["stored"] is False and "NATS" in error["message"]
    french = await service.post("/counters", json={"label": "pendant"})
    assert "journal" in french.json()["error"]["message"]
    health = await service.get("/health")
    assert health.status_code == 503
    assert "NATS (the event log) is unreachable" in health.json()["problems"]
    nats_server.start()
    for _ in range(100):
        if runtime.nc.is_connected:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)  # a late, buffered publish would land by now
    assert await stored_labels(nats_url) == []
    retried = await service.post(
        "/counters", json={"label": "during"}, headers={"Idempotency-Key": "k1"}
    )
    assert retried.status_code in (201, 202)  # 202 while the read model catches up
    assert await stored_labels(nats_url) == ["during"]


async def test_read_model_late_answers_202_with_the_id_and_location(
    service: httpx.AsyncClient, nats_url: str
) -> None:
    runtime = service.app.state.runtime  # type: ignore[attr-defined]
    stop_read_model(runtime)
    answer = await service.post(
        "/counters", json={"label": "late"}, headers={"Idempotency-Key": "late-1"}
    )
    assert answer.status_code == 202, answer.text
    body = answer.json()
    counter_id = derived_id("lab.counter", "late-1")
    assert body["status"] == "accepted" and body["counter_id"] == counter_id
    assert body["resource"] == {"type": "counter", "id": counter_id}
    assert answer.headers["Location"] == f"/counters/{counter_id}" == body["location"]
    assert body["events"][0]["stream"] == "LAB" and body["events"][0]["type"] == "CounterOpened"
    assert await stored_labels(nats_url) == ["late"]
    # Sent again with its key: stored once, accepted again.
    again = await service.post(
        "/counters", json={"label": "late"}, headers={"Idempotency-Key": "late-1"}
    )
    assert again.status_code == 202
    assert await stored_labels(nats_url) == ["late"]


async def test_database_down_after_the_append_answers_202_and_before_it_503(
    service: httpx.AsyncClient, nats_url: str
) -> None:
    runtime = service.app.state.runtime  # type: ignore[attr-defined]
    real = runtime.engine
    stop_read_model(runtime, ConnectionRefusedError("database gone"))

    class Gone:
        def connect(self) -> Any:
            raise ConnectionRefusedError("database gone")

        begin = connect

    answer = await service.post("/counters", json={"label": "stored"})
    assert answer.status_code == 202, answer.text
    assert await stored_labels(nats_url) == ["stored"]
    runtime.engine = Gone()
    try:
        answer = await service.get("/reads-the-database", headers={"Accept-Language": "en"})
    finally:
        runtime.engine = real
    assert answer.status_code == 503
    assert answer.json()["error"]["code"] == "database_unavailable"
    assert "PostgreSQL" in answer.json()["error"]["message"]


async def test_a_connection_closed_under_the_client_answers_503_and_sends_nothing_later(
    service: httpx.AsyncClient, nats_url: str
) -> None:
    """CI's fault test answered 500 five times in 1,000: uvloop's RuntimeError, raised where
    nats-py's flusher had stopped on it and every publish wrote inline."""
    nc = service.app.state.runtime.nc  # type: ignore[attr-defined]
    real, flusher = nc._transport, nc._flusher_task
    flusher.cancel()
    await asyncio.wait([flusher])
    nc._transport = ClosedUnderneath()
    try:
        answer = await service.post(
            "/counters", json={"label": "under"}, headers={"Idempotency-Key": "closed"}
        )
        assert answer.status_code == 503, answer.text
        assert answer.json()["error"]["cause"] == "log"
        assert not any(cmd.startswith((b"PUB ", b"HPUB ")) for cmd in nc._pending)
    finally:
        nc._transport = real
        nc._flusher_task = asyncio.get_running_loop().create_task(nc._flusher())
    await nc.flush()
    assert await stored_labels(nats_url) == []
    retried = await service.post(
        "/counters", json={"label": "under"}, headers={"Idempotency-Key": "closed"}
    )
    assert retried.status_code in (201, 202), retried.text
    assert await stored_labels(nats_url) == ["under"]


async def test_an_answer_lost_on_the_way_is_settled_by_asking_again(nc: Any) -> None:
    store = await lab_store(nc)
    real = store._publish
    calls = 0

    async def answer_lost(*args: Any) -> list[int]:
        nonlocal calls
        calls += 1
        if calls == 1:
            await real(*args)  # stored, but the answer never comes back
            raise _Unanswered("lost")
        return await real(*args)

    store._publish = answer_lost  # type: ignore[method-assign]
    agg = Aggregate("lab", "hq", "counter", "lost")
    result = await store.append(agg, 0, [lab.CounterOpened(label="once")], actor=ACTOR)
    assert calls == 2 and result.duplicate
    assert [e.event for e in await store.load(agg)] == [lab.CounterOpened(label="once")]


async def test_nothing_is_buffered_while_disconnected(
    nats_server: NatsServer | None, nats_url: str
) -> None:
    if nats_server is None:
        pytest.skip("an external server is not ours to stop")
    nc = await connect_service([nats_url], name="t")
    store = NatsEventStore(
        nc, key=(await lab_store(nc)).key, source="/t", site="hq", writable_contexts=("lab",)
    )
    nats_server.stop()
    for _ in range(100):
        if not nc.is_connected:
            break
        await asyncio.sleep(0.02)
    with pytest.raises(LogUnavailable):
        await store.append(
            Aggregate("lab", "hq", "counter", "x"), 0, [lab.CounterOpened(label="x")], actor=ACTOR
        )
    with pytest.raises(nats.errors.OutboundBufferLimitError):
        await nc.publish("lab.hq.counter.y.CounterOpened", b"{}")
    assert nc.pending_data_size == 0
    # A publish left unwritten in the buffer when a connection drops is thrown away.
    nc._pending.append(b"PUB lab.hq.counter.z.CounterOpened  2\r\n{}\r\n")
    nc._pending.append(b"PING\r\n")
    assert drop_buffered_publishes(nc) == 1 and nc._pending == [b"PING\r\n"]
    nc._pending.clear()
    nc._pending_data_size = 0
    nats_server.start()
    for _ in range(100):
        if nc.is_connected:
            break
        await asyncio.sleep(0.05)
    await nc.close()


async def test_bodies_are_refused_before_being_read_in_full(service: httpx.AsyncClient) -> None:
    big = b'{"label": "' + b"x" * 1_100_000 + b'"}'
    answer = await service.post(
        "/counters",
        content=big,
        headers={"content-type": "application/json", "Accept-Language": "en"},
    )
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "body_too_large"
    assert answer.json()["error"]["limit_bytes"] == 1_000_000

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it comes
        for _ in range(30):
            yield b" " * 50_000

    streamed = await service.post(
        "/counters", content=chunks(), headers={"content-type": "application/json"}
    )
    assert streamed.status_code == 413
    larger_here = await service.post(
        "/large", content=big, headers={"content-type": "application/json"}
    )
    assert larger_here.status_code == 404  # past the guard: this path allows 3 MB


async def test_a_key_twice_or_a_byte_order_mark_is_refused(service: httpx.AsyncClient) -> None:
    twice = await service.post(
        "/counters",
        content=b'{"label": "a", "label": "b"}',
        headers={"content-type": "application/json", "Accept-Language": "en"},
    )
    assert twice.status_code == 400
    assert twice.json()["error"]["code"] == "duplicate_key"
    assert "'label' twice" in twice.json()["error"]["message"]
    nested = await service.post(
        "/counters",
        content=b'{"label": "a", "x": {"k": 1, "k": 2}}',
        headers={"content-type": "application/json"},
    )
    assert nested.status_code == 400 and "« k »" in nested.json()["error"]["message"]
    bom = await service.post(
        "/counters",
        content=b'\xef\xbb\xbf{"label": "a"}',
        headers={"content-type": "application/json", "Accept-Language": "en"},
    )
    assert bom.status_code == 400 and bom.json()["error"]["code"] == "byte_order_mark"
    fine = await service.post("/counters", json={"label": "a"})
    # Stored either way: this service waits half a second for its read model (the outage
    # tests' setting), which a loaded machine can take longer than.
    assert fine.status_code in (201, 202), fine.text


async def test_a_stream_changed_behind_its_back_turns_health_red(
    service: httpx.AsyncClient, nc: Any
) -> None:
    js = nc.jetstream()
    config = (await js.stream_info("INTAKE")).config
    await js.update_stream(replace(config, max_age=200_000))
    for _ in range(50):
        answer = await service.get("/health", headers={"Accept-Language": "en"})
        if answer.status_code == 503:
            break
        await asyncio.sleep(0.1)
    assert answer.status_code == 503
    assert "stream INTAKE: messages expire (max_age)" in answer.json()["problems"]


async def test_a_handler_that_meets_a_nats_outage_sets_nothing_aside(nc: Any, engine: Any) -> None:
    from sqlalchemy import MetaData, func, select

    from shared.db import dead_letters
    from shared.projection import Projection, StreamProjector
    from shared.projection_schema import prepare

    store = await lab_store(nc)
    await store.append(
        Aggregate("lab", "hq", "counter", "feed"), 0, [lab.CounterOpened(label="f")], actor=ACTOR
    )
    projection = Projection(name="lab.feed", version=1, metadata=MetaData())
    seen: list[int] = []

    @projection.on("lab", "CounterOpened")
    async def republish(conn: Any, event: Any) -> None:
        seen.append(event.seq)
        if len(seen) < 3:  # as the public feed's publish does while NATS is away
            raise nats.errors.OutboundBufferLimitError

    await prepare(engine, projection)
    projector = StreamProjector(projection, "LAB", engine, nc.jetstream(), standby_retry_s=0.05)
    await asyncio.wait_for(projector.run(until_seq=1), 20)
    assert len(seen) == 3 and projector.checkpoint == 1
    async with engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(dead_letters))).scalar() == 0
