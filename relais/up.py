"""``relais up``: NATS and PostgreSQL (embedded unless ``NATS_URL`` / ``DATABASE_URL`` say
otherwise) and one process per service and the portal, kept running until Ctrl-C or SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import httpx

from relais.embedded import EmbeddedPostgres, NatsServer
from shared.config import PORTAL, PROCESSES, Settings
from shared.nats_accounts import accounts_config, load_or_create_passwords

READY_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 10.0
RESTARTS_PER_MINUTE = 5
TICK_S = 0.25


@dataclass
class Service:
    name: str
    url: str
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    restarts: deque[float] = field(default_factory=deque)
    restart_at: float | None = None

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            stamp = time.strftime("%Y-%m-%d %H:%M:%S")
            log.write(f"--- relais up: starting {self.name} at {stamp} ---\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                [sys.executable, "-m", f"services.{self.name}"],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # A terminal's Ctrl-C reaches the whole foreground process group; in their own
                # session the services wait for us, so they stop in order and are not mistaken
                # for crashes and restarted.
                start_new_session=True,
            )

    def exit_code(self) -> int | None:
        return None if self.process is None else self.process.poll()


class _StopFlag:
    """Signal handler that only records the request: the main loop does the stopping, so a
    signal never interrupts a half-started process or server."""

    def __init__(self) -> None:
        self.requested = False

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True


def _say(line: str) -> None:
    print(line, flush=True)


def _fail(line: str) -> None:
    print(f"relais up: {line}", file=sys.stderr, flush=True)


def _hide_credentials(url: str) -> str:
    return re.sub(r"//[^/@,]*@", "//***@", url)


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As uvicorn does: a socket of the previous run lingering in TIME_WAIT is no conflict.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _wait_ready(services: list[Service], stop: _StopFlag) -> Service | None:
    """The first service that exits or stays unhealthy until the deadline; None if all are up
    (or a stop was requested, which the caller checks)."""
    pending = list(services)
    deadline = time.monotonic() + READY_TIMEOUT_S
    with httpx.Client(timeout=2.0) as client:
        while pending and not stop.requested:
            for svc in list(pending):
                if svc.exit_code() is not None:
                    return svc
                try:
                    if client.get(f"{svc.url}/health").status_code == 200:
                        pending.remove(svc)
                except httpx.HTTPError:
                    pass  # not listening yet
            if pending and time.monotonic() > deadline:
                return pending[0]
            time.sleep(TICK_S)
    return None


def _supervise(services: list[Service], stop: _StopFlag) -> None:
    while not stop.requested:
        now = time.monotonic()
        for svc in services:
            if svc.restart_at is not None:
                if now >= svc.restart_at:
                    svc.restart_at = None
                    svc.start()
                    _say(f"{svc.name} restarted")
                continue
            code = svc.exit_code()
            if code is None:
                continue
            while svc.restarts and now - svc.restarts[0] > 60:
                svc.restarts.popleft()
            # A crash loop (bad config, database gone) should not spin the machine or bury the
            # first error in its log under thousands of identical ones.
            delay = float(min(2 ** len(svc.restarts), 30))
            if len(svc.restarts) >= RESTARTS_PER_MINUTE:
                delay = max(delay, svc.restarts[0] + 60 - now)
            svc.restarts.append(now + delay)
            svc.restart_at = now + delay
            _say(f"{svc.name} exited ({code}); restarting in {delay:.0f} s; log: {svc.log_path}")
        time.sleep(TICK_S)


def _stop_services(services: list[Service]) -> None:
    running = [s.process for s in services if s.process is not None and s.process.poll() is None]
    for proc in running:
        proc.terminate()
    deadline = time.monotonic() + STOP_TIMEOUT_S
    for proc in running:
        try:
            proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _shutdown(
    services: list[Service], nats: NatsServer | None, pg: EmbeddedPostgres | None
) -> None:
    # Services first, so none of them sees its servers vanish and logs errors on the way out.
    _stop_services(services)
    for server in (nats, pg):
        if server is not None:
            try:
                server.stop()
            except Exception as exc:  # the next one must still be stopped
                _fail(f"stopping {type(server).__name__}: {exc!r}")


def run_up(data_dir: Path) -> int:
    settings = Settings()
    data_dir = data_dir.expanduser().resolve()
    stop = _StopFlag()
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    nats: NatsServer | None = None
    pg: EmbeddedPostgres | None = None
    services: list[Service] = []
    try:
        logs = data_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        taken = [
            f"{name} ({settings.port_for(name)})"
            for name in PROCESSES
            if not _port_free(settings.host, settings.port_for(name))
        ]
        if taken:
            _fail(f"port already in use for {', '.join(taken)}; is relais already running?")
            return 1

        nats_url = settings.nats_url
        # The embedded server gives each service its own NATS user, allowed to publish only
        # to its own subjects; an external server brings its own accounts (deploy/).
        passwords: dict[str, str] = {}
        if not nats_url:
            passwords = load_or_create_passwords(data_dir / "nats" / "users.json")
            try:
                nats = NatsServer(
                    data_dir / "nats",
                    port=settings.embedded_nats_port,
                    extra_config=accounts_config(settings.site, passwords),
                ).start()
            except Exception as exc:
                _fail(f"cannot start nats-server: {exc}")
                return 1
            nats_url = nats.url
        database_url = settings.database_url
        if not database_url:
            try:
                pg = EmbeddedPostgres(data_dir / "postgres").start()
                database_url = pg.url
            except Exception as exc:
                _fail(f"cannot start PostgreSQL: {exc!r}; see {data_dir / 'postgres' / 'log'}")
                return 1
        if stop.requested:
            return 0

        host = "127.0.0.1" if settings.host in ("", "0.0.0.0") else settings.host  # noqa: S104
        for name in PROCESSES:
            port = settings.port_for(name)
            env = {
                **os.environ,
                "RELAIS_DATA_DIR": str(data_dir),
                "RELAIS_SERVICE": name,
                "RELAIS_PORT": str(port),
                "NATS_URL": nats_url,
                "DATABASE_URL": database_url,
            }
            if passwords:
                env["RELAIS_NATS_USER"] = name
                env["RELAIS_NATS_PASSWORD"] = passwords[name]
            services.append(Service(name, f"http://{host}:{port}", env, logs / f"{name}.log"))
        for svc in services:
            svc.start()

        failed = _wait_ready(services, stop)
        if stop.requested:
            return 0
        if failed is not None:
            code = failed.exit_code()
            why = (
                f"not healthy after {READY_TIMEOUT_S:.0f} s" if code is None else f"exited ({code})"
            )
            _fail(f"{failed.name} {why}; see {failed.log_path}")
            return 1

        width = max(len(name) for name in PROCESSES) + 2
        for svc in services:
            _say(f"{svc.name:<{width}} {svc.url}")
        where = "embedded" if pg is not None else "external (DATABASE_URL)"
        _say(f"NATS {_hide_credentials(nats_url)}, PostgreSQL {where}, data in {data_dir}")
        portal = next(svc for svc in services if svc.name == PORTAL)
        _say(
            f"Open {portal.url} to sign in / ouvrez {portal.url} pour vous connecter; "
            "first account / premier compte: relais user add --agency A --role agency_admin "
            "--email E"
        )
        _say("Ctrl-C to stop")
        _supervise(services, stop)
        _say("stopping")
        return 0
    finally:
        _shutdown(services, nats, pg)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
