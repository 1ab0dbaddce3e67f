"""The servers die under load, and every answer stays honest (``relais up`` on the embedded
default): SIGKILL the nats-server, then PostgreSQL, each during 1,000 concurrent report
registrations with an ``Idempotency-Key``. Every 2xx and 202 is in the log exactly once,
every 503 is absent after recovery, nothing answers 500, ``relais up`` brings the server back
by itself, and clients that retry their 503s with the same key end with every report stored
exactly once."""

from __future__ import annotations

import asyncio
import json
import os
import queue
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import nats
import psutil
import pytest

from shared.auth import LocalIssuer
from shared.command_http import new_aggregate_id, scoped_key
from shared.reading import iter_stored
from tests.test_up import Up, _kill_tree, _wait_for_services, make_env, starting

# Whole deployments on real servers: one at a time (one xdist worker), not two at once.
pytestmark = [pytest.mark.system, pytest.mark.xdist_group("deployments")]

REPORTS = 1_000
AGENCY = "ocpm"
OPERATOR = "op-1"


def report_of(key: str) -> str:
    """The report a registration with this Idempotency-Key names: the key is scoped to the
    user and the route (docs/architecture.md, Idempotency)."""
    return new_aggregate_id(scoped_key(OPERATOR, "POST", "/reports", key), "intake.report")


CONCURRENCY = 100  # connections in flight at once; the rest queue in the client
RECOVERY_S = 120.0


@pytest.fixture
def env() -> dict[str, str]:
    return make_env()


@pytest.fixture
def start(env: dict[str, str]) -> Iterator[Callable[[Path], Up]]:
    yield from starting(env)


def body() -> dict[str, object]:
    received = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    return {
        "channel": "hotline_116",
        "received_at": received,
        "commune": "bj-littoral-cotonou",
        "concerns": ["child_labour"],
        "children": [{"unidentified": True, "sex": "female"}],
    }


async def register_all(
    url: str,
    token: str,
    keys: list[str],
    kill: Callable[[], None],
    after: int,
    errors: list[str],
) -> dict[str, int]:
    """POST every report at once (``CONCURRENCY`` connections); ``kill`` once ``after``
    answers came back."""
    answers: dict[str, int] = {}
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    headers = {"Authorization": f"Bearer {token}"}
    killed = False
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=120) as client:

        async def one(key: str) -> None:
            nonlocal killed
            try:
                answer = await client.post(
                    "/reports", json=body(), headers={**headers, "Idempotency-Key": key}
                )
            except httpx.TransportError as exc:  # the service went away: a failure below
                answers[key] = 0
                errors.append(f"{key}: {type(exc).__name__}")
                return
            answers[key] = answer.status_code
            assert "Traceback" not in answer.text
            if answer.status_code == 503:
                assert answer.headers["Retry-After"]
                assert answer.json()["error"]["stored"] is False
            if len(answers) >= after and not killed:
                killed = True
                kill()

        await asyncio.gather(*(one(k) for k in keys))
    return answers


async def retry_503s(url: str, token: str, answers: dict[str, int]) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:
        pending = [k for k, status in answers.items() if status in (503, 504)]
        for _ in range(60):
            if not pending:
                return
            results = await asyncio.gather(
                *(
                    client.post("/reports", json=body(), headers={**headers, "Idempotency-Key": k})
                    for k in pending
                )
            )
            for key, answer in zip(pending, results, strict=True):
                assert answer.status_code != 500, answer.text
                answers[key] = answer.status_code
            pending = [k for k, status in answers.items() if status in (503, 504)]
            await asyncio.sleep(1)
        raise AssertionError(f"{len(pending)} reports still refused after retrying")


async def stored_reports(nats_url: str, data_dir: Path) -> Counter[str]:
    passwords = json.loads((data_dir / "nats" / "users.json").read_text())
    nc = await nats.connect(
        nats_url, user="relais_admin", password=passwords["relais_admin"], max_reconnect_attempts=0
    )
    try:
        subjects = [
            subject
            async for _, subject, _ in iter_stored(
                nc, "INTAKE", "intake.*.report.*.ReportRegistered"
            )
        ]
        return Counter(subject.split(".")[3] for subject in subjects)
    finally:
        await nc.close()


def wait_for_line(up: Up, fragment: str) -> None:
    deadline = time.monotonic() + RECOVERY_S
    while time.monotonic() < deadline:
        try:
            line = up.lines.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            break
        if line is None:
            break
        up.output.append(line)
        if fragment in line:
            return
    pytest.fail(f"relais up never said {fragment!r}\n{up.diagnostics()}")


async def healthy(url: str) -> None:
    deadline = time.monotonic() + RECOVERY_S
    async with httpx.AsyncClient(base_url=url, timeout=5) as client:
        while time.monotonic() < deadline:
            try:
                if (await client.get("/health")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise AssertionError("intake never became healthy again")


def unhandled(data_dir: Path) -> list[str]:
    """What the services logged of the failures they could not classify (the 500s): the
    exception's type, never its text."""
    return [
        line
        for log in sorted((data_dir / "logs").glob("*.log"))
        for line in log.read_text(errors="replace").splitlines()
        if "unhandled" in line or "Exception in ASGI" in line
    ]


def check(answers: dict[str, int], stored: Counter[str], keys: list[str], data_dir: Path) -> None:
    statuses = Counter(answers.values())
    # no 500, and no unknown outcome
    assert set(statuses) <= {201, 202, 503}, (statuses, unhandled(data_dir)[:10])
    for key in keys:
        report_id = report_of(key)
        if answers[key] in (201, 202):
            assert stored[report_id] == 1, (key, answers[key], stored[report_id])
        else:
            assert stored[report_id] == 0, (key, answers[key], stored[report_id])


def test_servers_killed_under_load_leave_every_answer_honest(
    tmp_path: Path, env: dict[str, str], start: Callable[[Path], Up]
) -> None:
    data_dir = tmp_path / "data"
    up = start(data_dir)
    _wait_for_services(up, env)
    url = f"http://127.0.0.1:{env['RELAIS_INTAKE_PORT']}"
    nats_url = f"nats://127.0.0.1:{env['RELAIS_EMBEDDED_NATS_PORT']}"
    token = LocalIssuer.load(data_dir / "keys").mint(
        user=OPERATOR, agency=AGENCY, roles=["hotline_operator"]
    )
    figures: dict[str, object] = {}

    def kill_nats() -> None:
        for child in psutil.Process(up.process.pid).children():
            if "nats-server" in child.name():
                os.kill(child.pid, signal.SIGKILL)
                return
        raise AssertionError("no nats-server to kill")

    def kill_postgres() -> None:
        pid = int((data_dir / "postgres" / "postmaster.pid").read_text().split()[0])
        os.kill(pid, signal.SIGKILL)

    for phase, kill, restarted in (
        ("nats", kill_nats, "nats-server restarted"),
        ("postgres", kill_postgres, "postgresql restarted"),
    ):
        keys = [f"{phase}-{i}" for i in range(REPORTS)]
        started = time.monotonic()
        errors: list[str] = []
        answers = asyncio.run(register_all(url, token, keys, kill, REPORTS // 5, errors))
        assert not errors, f"{errors[:5]}\n{up.diagnostics()}"
        wait_for_line(up, restarted)
        asyncio.run(healthy(url))
        stored = asyncio.run(stored_reports(nats_url, data_dir))
        check(answers, stored, keys, data_dir)
        figures[phase] = dict(Counter(answers.values()))
        asyncio.run(retry_503s(url, token, answers))
        stored = asyncio.run(stored_reports(nats_url, data_dir))
        assert all(stored[report_of(k)] == 1 for k in keys)
        figures[f"{phase}_s"] = round(time.monotonic() - started, 1)
    print("fault figures:", figures)
    _kill_tree(up)
