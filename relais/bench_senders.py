"""What ``relais bench --scenario intake-http`` sends, and how: one registration per child
with a name of its own (a given name, a second name and a family name from short lists), in
one of eight communes, sent open-loop by several processes (``relais/bench_intake.py``
starts the system and reads what came back).

Open-loop: the n-th registration leaves at ``n / rate`` seconds whatever the earlier ones
are doing, as people calling a hotline do; a closed loop (send, wait, send) would hide a
queue by slowing down with it.

The requests are written by hand on keep-alive connections and the answers read by
httptools (uvicorn's C parser), on uvloop: httpx cost the senders about 2.5 ms of CPU per
registration, a quarter of a core at 100 a second taken from the two cores the system under
test runs on, and a loop busy sending delays the answers it measures."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import time
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from urllib.parse import urlsplit

import httptools
import uvloop

from shared.command_http import new_aggregate_id, scoped_key

USER, AGENCY, ROLE = "bench-operator", "ocpm", "intake_officer"
COMMUNES = (
    "bj-littoral-cotonou",
    "bj-oueme-porto-novo",
    "bj-borgou-parakou",
    "bj-atlantique-abomey-calavi",
    "bj-donga-djougou",
    "bj-alibori-kandi",
    "bj-mono-lokossa",
    "bj-atacora-natitingou",
)
GIVEN = [
    "Afiavi",
    "Akossiwa",
    "Amivi",
    "Ayaba",
    "Chabi",
    "Dossou",
    "Efua",
    "Femi",
    "Gbenga",
    "Hounsou",
    "Ibukun",
    "Kafui",
    "Kayode",
    "Kossiwa",
    "Lamidi",
    "Mariam",
    "Nafissatou",
    "Nouhoum",
    "Orou",
    "Rachida",
    "Sabi",
    "Sessi",
    "Tanimoun",
    "Yaovi",
    "Zoulfa",
]
SECOND = [
    "Adjoa",
    "Bake",
    "Codjo",
    "Dansou",
    "Enagnon",
    "Fifame",
    "Gnonlonfoun",
    "Houefa",
    "Idrissou",
    "Jonas",
    "Kpodji",
    "Lokonon",
    "Mawuena",
    "Nassirou",
    "Ogoudele",
    "Prudence",
    "Quenum",
    "Rissikatou",
    "Senami",
    "Toffa",
    "Ulrich",
    "Vidjinnagni",
]
FAMILY = [
    "Adjovi",
    "Agbangla",
    "Ahouandjinou",
    "Akpovi",
    "Alapini",
    "Assogba",
    "Azonhiho",
    "Bio",
    "Chabi-Gado",
    "Dagba",
    "Djossou",
    "Gbaguidi",
    "Hounkpatin",
    "Houngbedji",
    "Kakpo",
    "Kiki",
    "Koukpaki",
    "Lawani",
    "Mama",
    "Noudehou",
    "Padonou",
    "Sossou",
    "Tchabi",
    "Yessoufou",
    "Zinsou",
]


def child_name(i: int) -> str:
    """A distinct full name for each of the first 25 x 22 x 25 = 13,750 registrations."""
    g, rest = i % len(GIVEN), i // len(GIVEN)
    s, f = rest % len(SECOND), (rest // len(SECOND)) % len(FAMILY)
    return f"{GIVEN[g]} {SECOND[s]} {FAMILY[f]}"


def registration(i: int) -> dict[str, Any]:
    received = (datetime.now(UTC) - timedelta(minutes=3)).isoformat()
    return {
        "channel": "hotline_116",
        "received_at": received,
        "commune": COMMUNES[i % len(COMMUNES)],
        "concerns": ["child_labour"],
        "children": [
            {
                "name": child_name(i),
                "sex": "female" if i % 2 else "male",
                "age_years": 3 + i % 14,
            }
        ],
    }


def report_of(key: str) -> str:
    return new_aggregate_id(scoped_key(USER, "POST", "/reports", key), "intake.report")


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)

    return {"p50": at(0.50), "p90": at(0.90), "p99": at(0.99), "max": round(ordered[-1], 1)}


class _Answers(asyncio.Protocol):
    """One keep-alive connection: a request written, its answer's status read when the
    whole answer has come (the body is not needed)."""

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.waiting: asyncio.Future[int] | None = None
        self.open = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self.fail(exc)

    def on_message_complete(self) -> None:
        self.open = self.open and self.parser.should_keep_alive()
        if self.waiting is not None and not self.waiting.done():
            self.waiting.set_result(self.parser.get_status_code())

    def connection_lost(self, exc: Exception | None) -> None:
        self.fail(exc or ConnectionResetError("closed before the answer"))

    def fail(self, exc: Exception) -> None:
        self.open = False
        if self.waiting is not None and not self.waiting.done():
            self.waiting.set_exception(exc)
        if self.transport is not None:
            self.transport.close()

    async def exchange(self, request: bytes) -> int:
        assert self.transport is not None
        self.waiting = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return await self.waiting


class _Client:
    """POSTs on a pool of keep-alive connections, a new one whenever all are busy: an
    open-loop sender never waits for a connection."""

    def __init__(self, url: str, token: str) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.head = (
            f"Host: {self.host}:{self.port}\r\nAuthorization: Bearer {token}\r\n"
            "Content-Type: application/json\r\n"
        )
        self.idle: list[_Answers] = []
        self.everyone: list[_Answers] = []

    async def post(self, path: str, body: bytes, key: str, timeout: float) -> int:
        request = (
            f"POST {path} HTTP/1.1\r\n{self.head}Idempotency-Key: {key}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode() + body
        while self.idle:
            conn = self.idle.pop()
            if conn.open:
                break
        else:
            loop = asyncio.get_running_loop()
            _, conn = await loop.create_connection(_Answers, self.host, self.port)
            self.everyone.append(conn)
        try:
            status = await asyncio.wait_for(conn.exchange(request), timeout)
        except BaseException as exc:  # a late answer must not be taken for the next one's
            conn.fail(exc if isinstance(exc, Exception) else ConnectionAbortedError())
            raise
        if conn.open:
            self.idle.append(conn)
        return status

    def close(self) -> None:
        for conn in self.everyone:
            if conn.transport is not None:
                conn.transport.close()


async def drive(
    url: str,
    token: str,
    rate: float,
    duration_s: float,
    *,
    share: int,
    senders: int,
    start_at: float,
) -> dict[str, Any]:
    """This sender's share of ``rate`` registrations a second for ``duration_s`` seconds,
    open-loop: registration ``i`` leaves at ``start_at + i / rate`` (wall clock) whatever
    the answers before it, and is this sender's when ``i % senders == share``."""
    total = max(1, round(rate * duration_s))
    statuses: Counter[str] = Counter()
    latencies: list[float] = []
    ok_latencies: list[float] = []
    stored_keys: list[str] = []
    refused_at: list[float] = []  # when each answer that was not a 2xx was sent, in seconds
    client = _Client(url, token)

    async def one(i: int) -> None:
        key = f"bench-{i}"
        body = json.dumps(registration(i)).encode()
        started = time.perf_counter()
        try:
            status = await client.post("/reports", body, key, timeout=60)
        except (OSError, TimeoutError, httptools.HttpParserError) as exc:
            statuses[f"error:{type(exc).__name__}"] += 1
            latencies.append((time.perf_counter() - started) * 1000)
            refused_at.append(i / rate)
            return
        elapsed = (time.perf_counter() - started) * 1000
        latencies.append(elapsed)
        statuses[str(status)] += 1
        if 200 <= status < 300:
            ok_latencies.append(elapsed)
            stored_keys.append(key)
        else:
            refused_at.append(i / rate)

    loop = asyncio.get_running_loop()
    begin = loop.time() + (start_at - time.time())
    tasks = []
    try:
        for i in range(share, total, senders):
            delay = begin + i / rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i)))
        sent_s = loop.time() - begin
        await asyncio.gather(*tasks)
        elapsed_s = loop.time() - begin
    finally:
        client.close()
    return {
        "sent": len(tasks),
        "sent_s": sent_s,
        "elapsed_s": elapsed_s,
        "statuses": statuses,
        "latencies": latencies,
        "ok_latencies": ok_latencies,
        "stored_keys": stored_keys,
        "refused_at": refused_at,
    }


def _sender(url: str, token: str, rate: float, duration_s: float, share: int, senders: int,
            start_at: float) -> dict[str, Any]:  # fmt: skip
    cpu_before = time.process_time()  # after the imports a spawned process starts with
    part = uvloop.run(
        drive(url, token, rate, duration_s, share=share, senders=senders, start_at=start_at)
    )
    return {**part, "cpu_s": time.process_time() - cpu_before}


def drive_with_senders(
    url: str, token: str, rate: float, duration_s: float, senders: int
) -> dict[str, Any]:
    """The registrations sent by ``senders`` processes (one Python event loop saturates near
    100 requests a second, and would then measure itself), their answers merged."""
    start_at = time.time() + 1.0 + 0.5 * senders  # every sender started and connected by then
    context = multiprocessing.get_context("spawn")  # the parent runs threads: no fork
    with ProcessPoolExecutor(max_workers=senders, mp_context=context) as pool:
        shares = [
            pool.submit(_sender, url, token, rate, duration_s, k, senders, start_at)
            for k in range(senders)
        ]
        parts = [share.result() for share in shares]
    statuses: Counter[str] = sum((p["statuses"] for p in parts), Counter())
    sent = sum(p["sent"] for p in parts)
    sent_s = max(p["sent_s"] for p in parts)
    return {
        "sent": sent,
        "sent_rate": round(sent / sent_s, 1) if sent_s > 0 else None,
        "elapsed_s": round(max(p["elapsed_s"] for p in parts), 2),
        "statuses": dict(sorted(statuses.items())),
        "latency_ms": percentiles([v for p in parts for v in p["latencies"]]),
        "latency_2xx_ms": percentiles([v for p in parts for v in p["ok_latencies"]]),
        "stored_keys": [k for p in parts for k in p["stored_keys"]],
        "not_2xx_by_second": _by_second(p["refused_at"] for p in parts),
        "senders": senders,
        "senders_cpu_s": sum(p["cpu_s"] for p in parts),
    }


def _by_second(parts: Iterable[list[float]]) -> dict[str, int]:
    """How many answers were not a 2xx, by the second of the run they were sent in: whether
    the refusals came at the start (a cold process), in bursts, or throughout."""
    return dict(
        sorted(
            Counter(str(int(t)) for part in parts for t in part).items(), key=lambda kv: int(kv[0])
        )
    )
