"""``relais up`` on the embedded servers, twice on the same data directory: every service and
the portal become healthy, Ctrl-C stops every process it started, and the second start finds
the data of the first (the signing keys are neither regenerated nor published again)."""

from __future__ import annotations

import asyncio
import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import nats
import psutil
import pytest

from relais.embedded import free_port
from shared.config import PROCESSES

# Whole deployments on real servers: one at a time (one xdist worker), not two at once.
pytestmark = [pytest.mark.system, pytest.mark.xdist_group("deployments")]

READY_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 30.0


@dataclass
class Up:
    process: subprocess.Popen[str]
    data_dir: Path
    lines: queue.Queue[str | None] = field(default_factory=queue.Queue)
    output: list[str] = field(default_factory=list)

    def diagnostics(self) -> str:
        parts = ["stdout:\n" + "".join(self.output)]
        if self.process.poll() is not None and self.process.stderr is not None:
            parts.append("stderr:\n" + self.process.stderr.read())
        logs = [
            *sorted((self.data_dir / "logs").glob("*.log")),
            self.data_dir / "nats" / "nats-server.log",
            self.data_dir / "postgres" / "log",
        ]
        for log in logs:
            if log.exists():
                tail = log.read_text(errors="replace").splitlines()[-20:]
                parts.append(f"{log}:\n" + "\n".join(tail))
        return "\n\n".join(parts)


def make_env() -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("NATS_URL", "DATABASE_URL") and not k.startswith("RELAIS_")
    }
    env["RELAIS_EMBEDDED_NATS_PORT"] = str(free_port())
    for name in PROCESSES:
        env[f"RELAIS_{name.upper()}_PORT"] = str(free_port())
    return env


@pytest.fixture
def env() -> dict[str, str]:
    return make_env()


@pytest.fixture
def start(env: dict[str, str]) -> Iterator[Callable[[Path], Up]]:
    yield from starting(env)


def starting(env: dict[str, str]) -> Iterator[Callable[[Path], Up]]:
    """``relais up`` in a subprocess, on ``env``; everything it started is ended after."""
    started: list[Up] = []

    def _start(data_dir: Path) -> Up:
        process = subprocess.Popen(
            [sys.executable, "-m", "relais.cli", "up", "--data-dir", str(data_dir)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        up = Up(process, data_dir)
        started.append(up)

        def pump() -> None:
            assert process.stdout is not None
            for line in process.stdout:
                up.lines.put(line)
            up.lines.put(None)

        threading.Thread(target=pump, daemon=True).start()
        return up

    yield _start
    for up in started:
        if up.process.poll() is None:
            # Whatever failed, leave nothing running: an orderly stop if it still listens,
            # then every process it started, by pid.
            _kill_tree(up)


def _kill_tree(up: Up) -> None:
    pids = _owned_pids(up)
    up.process.send_signal(signal.SIGINT)
    try:
        up.process.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        up.process.kill()
        up.process.wait(10)
    for pid in pids:
        try:
            psutil.Process(pid).kill()
        except psutil.Error:
            pass


def _owned_pids(up: Up) -> set[int]:
    pids: set[int] = set()
    try:
        pids |= {p.pid for p in psutil.Process(up.process.pid).children(recursive=True)}
    except psutil.Error:
        pass
    postmaster = up.data_dir / "postgres" / "postmaster.pid"
    if postmaster.exists():
        pids.add(int(postmaster.read_text().split()[0]))
    return pids


def _wait_for_services(up: Up, env: dict[str, str]) -> None:
    wanted = {name: f"http://127.0.0.1:{env[f'RELAIS_{name.upper()}_PORT']}" for name in PROCESSES}
    seen: set[str] = set()
    deadline = time.monotonic() + READY_TIMEOUT_S
    while seen != set(wanted):
        try:
            line = up.lines.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            line = None
        if line is None:
            pytest.fail(f"relais up not ready (exit code {up.process.poll()})\n{up.diagnostics()}")
        up.output.append(line)
        words = line.split()
        if len(words) >= 2 and words[0] in wanted:
            assert words[1] == wanted[words[0]], line
            seen.add(words[0])


def _check_health(up: Up, env: dict[str, str]) -> None:
    for name in PROCESSES:
        port = env[f"RELAIS_{name.upper()}_PORT"]
        response = httpx.get(f"http://127.0.0.1:{port}/health", timeout=10)
        assert response.status_code == 200, f"{name}: {response.text}\n{up.diagnostics()}"
        body = response.json()
        assert body["nats"]["connected"] is True, body
        assert body["database"]["connected"] is True, body


async def _audit_messages(nats_port: str, data_dir: Path) -> int:
    # The embedded server has per-service users; operators use the admin user.
    passwords = json.loads((data_dir / "nats" / "users.json").read_text())
    nc = await nats.connect(
        f"nats://127.0.0.1:{nats_port}",
        max_reconnect_attempts=0,
        user="relais_admin",
        password=passwords["relais_admin"],
    )
    try:
        # Signing keys only: checkpoints (anchored heads) are appended at every start.
        from shared.reading import iter_stored

        return len([m async for m in iter_stored(nc, "AUDIT", "audit.*.signingkey.>")])
    finally:
        await nc.close()


def _key_files(data_dir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((data_dir / "keys").iterdir())}


def _alive(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


def _interrupt(up: Up, env: dict[str, str]) -> None:
    pids = _owned_pids(up)
    # nats-server, postgres, the four services and the portal
    assert len(pids) >= 7, pids
    up.process.send_signal(signal.SIGINT)
    try:
        code = up.process.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"relais up still running {STOP_TIMEOUT_S} s after SIGINT\n{up.diagnostics()}")
    assert code == 0, up.diagnostics()
    deadline = time.monotonic() + 5  # postgres is not our child: its exit is seen by polling
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [pid for pid in pids if _alive(pid)] == [], up.diagnostics()
    assert not (up.data_dir / "postgres" / "postmaster.pid").exists()
    for var in ("RELAIS_EMBEDDED_NATS_PORT", *(f"RELAIS_{n.upper()}_PORT" for n in PROCESSES)):
        with socket.socket() as sock:
            assert sock.connect_ex(("127.0.0.1", int(env[var]))) != 0, f"{var} still open"


def test_up_starts_everything_stops_cleanly_and_keeps_its_data(
    tmp_path: Path, env: dict[str, str], start: Callable[[Path], Up]
) -> None:
    data_dir = tmp_path / "data"
    nats_port = env["RELAIS_EMBEDDED_NATS_PORT"]

    first = start(data_dir)
    _wait_for_services(first, env)
    _check_health(first, env)
    messages = asyncio.run(_audit_messages(nats_port, data_dir))
    assert messages >= len(PROCESSES)
    keys = _key_files(data_dir)
    # one signing key per process, the embedded default's token-signing key, and the secret
    # that signs the portal's set-up links, and the one that keys the public complaint page's
    # address hashes
    assert set(keys) == {f"{s}-1.pem" for s in PROCESSES} | {
        "token-signing.pem",
        "portal-links.key",
        "portal-public.key",
    }
    _interrupt(first, env)

    second = start(data_dir)
    _wait_for_services(second, env)
    _check_health(second, env)
    assert asyncio.run(_audit_messages(nats_port, data_dir)) == messages
    assert _key_files(data_dir) == keys
    # The embedded default's read models rebuilt while it runs: the command finds the
    # servers through relais up's run file in the data directory.
    rebuilt = subprocess.run(
        [sys.executable, "-m", "relais.cli", "rebuild", "intake", "--data-dir", str(data_dir)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert rebuilt.returncode == 0, rebuilt.stderr + second.diagnostics()
    assert "new read models live" in rebuilt.stderr
    _check_health(second, env)
    _interrupt(second, env)
    assert not (data_dir / "relais-up.json").exists()


def test_two_instances_of_intake_share_its_port(
    tmp_path: Path, env: dict[str, str], start: Callable[[Path], Up]
) -> None:
    """``RELAIS_INTAKE_INSTANCES=2``: two intake processes on intake's one port, each with
    its own signing key, both answering, each projector (a projection on one stream) applied
    by one of them; registrations are answered whichever instance takes them."""
    from relais.bench_senders import AGENCY, ROLE, USER, registration
    from shared.auth import LocalIssuer

    env["RELAIS_INTAKE_INSTANCES"] = "2"
    data_dir = tmp_path / "data"
    up = start(data_dir)
    _wait_for_services(up, env)
    url = f"http://127.0.0.1:{env['RELAIS_INTAKE_PORT']}"
    assert any(line.split()[0] == "intake" and "(2 instances)" in line for line in up.output)
    assert {"intake-1.pem", "intake-2.pem"} <= set(_key_files(data_dir))

    # instance -> the projectors (projection, stream) it applies: each holds its own lease
    applying: dict[str, set[tuple[str, str]]] = {}
    projectors: set[tuple[str, str]] = set()
    deadline = time.monotonic() + 60
    # A new connection each look: the kernel picks the instance. Each projector's lease is
    # taken by whichever instance asks first, and may still be being taken as they start:
    # look until each projector is applied by one of them.
    while time.monotonic() < deadline:
        with httpx.Client(timeout=10) as client:
            body = client.get(f"{url}/health").json()
        applying[body["instance"]] = {
            (p["projection"], p["stream"]) for p in body["projectors"] if p["active"]
        }
        projectors = {(p["projection"], p["stream"]) for p in body["projectors"]}
        if len(applying) == 2 and projectors == applying["1"] | applying["2"]:
            break
        time.sleep(0.05)
    assert set(applying) == {"1", "2"}, up.diagnostics()
    assert projectors == applying["1"] | applying["2"], applying
    assert not applying["1"] & applying["2"], applying  # never both: the lease

    token = LocalIssuer.load(data_dir / "keys").mint(user=USER, agency=AGENCY, roles=[ROLE])
    for i in range(12):
        with httpx.Client(timeout=30, headers={"Authorization": f"Bearer {token}"}) as client:
            answer = client.post(
                f"{url}/reports", json=registration(i), headers={"Idempotency-Key": f"two-{i}"}
            )
        assert answer.status_code in (201, 202), answer.text

    # /metrics sums what both counted, whichever instance takes the scrape: each keeps its
    # counts in files of its own (named by process id) in one directory.
    counted = data_dir / "run" / "metrics" / "intake"
    pids = {f.stem.rsplit("_", 1)[1] for f in counted.glob("*.db")}
    assert len(pids) == 2, sorted(p.name for p in counted.iterdir())
    registered = re.compile(
        r'^relais_http_request_duration_seconds_count\{method="POST",route="/reports",'
        r'status="20[12]"\} (\d+)',
        re.MULTILINE,
    )
    for _ in range(6):
        with httpx.Client(timeout=10) as client:  # a new connection: the kernel picks
            text = client.get(f"{url}/metrics").text
        assert sum(float(n) for n in registered.findall(text)) == 12, text[:2000]
    _interrupt(up, env)
