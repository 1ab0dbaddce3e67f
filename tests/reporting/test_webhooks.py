"""Webhook deliveries (Standard Webhooks) to a local receiver that fails, times out and
recovers: signatures verified by an independent implementation (the ``standardwebhooks``
package), retries with back-off, each aggregate's events in order, nothing lost when the
reporting service's delivery stops and starts again, failures listed and redelivered."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from nats.aio.client import Client as NATS
from sqlalchemy.ext.asyncio import AsyncEngine
from standardwebhooks import Webhook as Verifier

from contracts import casework
from relais.embedded import free_port
from services.reporting.app import webhooks
from services.reporting.app.webhooks import WebhookDelivery
from services.reporting.domain.webhook_signing import Retry
from services.reporting.read.webhooks import prepare_tables, summary
from shared.envelope import Actor, Aggregate
from shared.eventstore import EventStore
from shared.integrators import Integrator, Webhook
from shared.nats_store import NatsEventStore
from shared.signing import SigningKey
from shared.streams import ensure_streams
from tests.reporting.feed_support import integrator, run_feed
from tests.reporting.markers import Markers

pytestmark = pytest.mark.connected

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
TIMEOUT_S = 0.5


@dataclass
class Receiver:
    """Answers as told: ``script`` is consumed one answer per request (``fail``: 503,
    ``slow``: longer than the sender waits), then ``then`` for every request."""

    script: list[str] = field(default_factory=list)
    then: str = "ok"
    received: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self) -> str:
        with self.lock:
            return self.script.pop(0) if self.script else self.then

    def accepted(self) -> list[tuple[dict[str, str], bytes]]:
        with self.lock:
            return [(h, b) for how, h, b in self.received if how == "ok"]


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            how = state.answer()
            with state.lock:
                state.received.append((how, dict(self.headers.items()), body))
            if how == "slow":
                time.sleep(TIMEOUT_S * 3)
            self.send_response(204 if how == "ok" else 503)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state, f"http://127.0.0.1:{server.server_address[1]}/relais"
    server.shutdown()
    server.server_close()


async def stopped(task: asyncio.Task[None]) -> None:
    """Cancel a delivery as a stopping service does; it must end promptly."""
    task.cancel()
    async with asyncio.timeout(20):
        await asyncio.gather(task, return_exceptions=True)


async def until(check: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "not in time"
        await asyncio.sleep(0.05)


async def test_webhook_deliveries_retry_keep_order_and_survive_a_restart(
    nc: NATS, engine: AsyncEngine, receiver: tuple[Receiver, str]
) -> None:
    state, url = receiver
    hooked = await _fed(nc, engine, "hooked", url, stages=3)

    # Down twice, then too slow once, then up; the delivery stops midway and starts again.
    state.script = ["fail", "fail", "slow"]
    retry = Retry(first_s=0.05, max_s=0.2, give_up_after=timedelta(hours=72))

    def delivery() -> WebhookDelivery:
        return WebhookDelivery(hooked, engine, nc, retry, timeout_s=TIMEOUT_S, poll_s=0.05)

    task = asyncio.create_task(delivery().run())
    await until(lambda: _accepted_at_least(state, 2))
    await stopped(task)
    task = asyncio.create_task(delivery().run())  # reporting restarted
    await until(lambda: _all_delivered(engine, "hooked", 8))
    await stopped(task)

    answers = [how for how, _, _ in state.received]
    assert answers[:3] == ["fail", "fail", "slow"] and answers.count("ok") >= 8
    verifier = Verifier(SECRET)
    for headers, body in [(h, b) for _, h, b in state.received]:
        assert verifier.verify(body, headers)  # raises unless signed as the standard says
    accepted = state.accepted()
    ids = [h["webhook-id"] for h, _ in accepted]
    assert len(set(ids)) == 8  # every event, whatever was retried or resent
    per_case: dict[str, list[int]] = {}
    for headers, body in accepted:
        envelope = json.loads(body)
        per_case.setdefault(envelope["subject"], []).append(int(headers["relais-position"]))
    assert len(per_case) == 2
    for positions in per_case.values():
        assert positions == sorted(positions)  # in order per aggregate
    stored = {int(h["relais-position"]): b for h, b in accepted}
    published = {seq: bytes(m.data) async for seq, _, m in _public(nc, "hooked")}
    assert stored == published  # the same bytes as the NATS feed
    report = await summary(engine, "hooked")
    assert report.counts == {"delivered": 8} and report.troubled == []


async def test_given_up_deliveries_are_listed_and_redelivered(
    nc: NATS, engine: AsyncEngine, receiver: tuple[Receiver, str]
) -> None:
    state, url = receiver
    hooked = await _fed(nc, engine, "down", url, stages=0)
    state.then = "fail"
    retry = Retry(first_s=0.05, max_s=0.1, give_up_after=timedelta(seconds=0.3))
    task = asyncio.create_task(
        WebhookDelivery(hooked, engine, nc, retry, timeout_s=TIMEOUT_S, poll_s=0.05).run()
    )
    try:

        async def given_up() -> bool:
            return (await summary(engine, "down")).counts == {"failed": 2}

        await until(given_up)
        report = await summary(engine, "down")
        assert [(d.status, d.last_error) for d in report.troubled] == [("failed", "HTTP 503")] * 2
        assert all(d.attempts > 1 for d in report.troubled)

        state.then = "ok"
        assert await webhooks.redeliver(engine, "down", from_position=None, failed_only=True) == 2
        await until(lambda: _all_delivered(engine, "down", 2))
        # From a position: everything again, under the same webhook ids.
        first = min(h["relais-position"] for h, _ in state.accepted())
        assert await webhooks.redeliver(engine, "down", from_position=int(first), failed_only=False)
        await until(lambda: _accepted_at_least(state, 4))
        ids = [h["webhook-id"] for h, _ in state.accepted()]
        assert len(ids) == 4 and len(set(ids)) == 2
    finally:
        await stopped(task)


async def _fed(nc: NATS, engine: AsyncEngine, name: str, url: str, stages: int) -> Integrator:
    """Two cases on the log, read into the public feed of an integrator with a webhook."""
    await ensure_streams(nc.jetstream(), "hq", contexts=("casework", "audit"))
    await prepare_tables(engine)
    store = NatsEventStore(
        nc, key=SigningKey.generate(), source="/t", site="hq", writable_contexts=("casework",)
    )
    await _two_cases(store, stages=stages)
    hooked = integrator(name, Webhook(url=url, secret=SECRET))
    async with asyncio.timeout(60):  # the feed's catch-up ends at the streams' last events
        await run_feed(nc, engine, hooked)
    return hooked


async def _two_cases(store: EventStore, stages: int) -> None:
    markers = Markers()
    actor = Actor(user="u", agency="a", role="case_worker")
    heads = {}
    for case_id in ("case-a", "case-b"):
        opened = markers.build(casework.CaseOpened).model_copy(update={"case_id": case_id})
        heads[case_id] = (
            await store.append(
                Aggregate("casework", "hq", "case", case_id), 0, [opened], actor=actor
            )
        ).head.seq
    for n in range(stages):  # interleaved: a, b, a, b...
        for case_id in ("case-a", "case-b"):
            moved = casework.StageChanged(from_stage=f"s{n}", to_stage=f"s{n + 1}")
            aggregate = Aggregate("casework", "hq", "case", case_id)
            heads[case_id] = (
                await store.append(aggregate, heads[case_id], [moved], actor=actor)
            ).head.seq


async def _accepted_at_least(state: Receiver, n: int) -> bool:
    return len(state.accepted()) >= n


async def _all_delivered(engine: AsyncEngine, name: str, n: int) -> bool:
    return (await summary(engine, name)).counts == {"delivered": n}


def _public(nc: NATS, name: str) -> Any:
    from shared.reading import iter_stored

    return iter_stored(nc, "PUBLIC", f"public.{name}.>")
