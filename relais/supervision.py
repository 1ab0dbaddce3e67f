"""The processes ``relais up`` keeps running: a service's instances and the embedded servers,
waited for until healthy, restarted with a back-off when they die (said on the output), and
stopped in order. Dead children are reaped."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import httpx

from relais.embedded import EXIT_UNKNOWN, EmbeddedPostgres, NatsServer
from shared.config import Settings

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
    instance: str = "1"  # several instances of a service share its url (decision 0034)
    shared: bool = False  # whether other instances share its url
    process: subprocess.Popen[bytes] | None = None
    restarts: deque[float] = field(default_factory=deque)
    restart_at: float | None = None

    @property
    def label(self) -> str:
        return f"{self.name} {self.instance}" if self.shared else self.name

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            stamp = time.strftime("%Y-%m-%d %H:%M:%S")
            log.write(f"--- relais up: starting {self.label} at {stamp} ---\n".encode())
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
        # poll() also reaps the child: a dead service never lingers as a zombie.
        return None if self.process is None else self.process.poll()


@dataclass
class Server:
    """An embedded server under supervision, restarted like a service when it dies."""

    name: str
    server: NatsServer | EmbeddedPostgres
    log_path: Path
    restarts: deque[float] = field(default_factory=deque)
    restart_at: float | None = None
    failed_start: str | None = None

    @property
    def label(self) -> str:
        return self.name

    def start(self) -> None:
        self.failed_start = None
        try:
            self.server.restart()
        except Exception as exc:  # tried again after the back-off
            self.failed_start = f"{type(exc).__name__}: {exc}"

    def exit_code(self) -> int | None:
        if self.failed_start is not None:
            return -1
        return self.server.exit_code()


Supervised = Service | Server


class StopFlag:
    """Signal handler that only records the request: the main loop does the stopping, so a
    signal never interrupts a half-started process or server."""

    def __init__(self) -> None:
        self.requested = False

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True


def say(line: str) -> None:
    print(line, flush=True)


def wait_ready(services: list[Service], stop: StopFlag) -> Service | None:
    """The first service that exits or stays unhealthy until the deadline; None if all are up
    (or a stop was requested, which the caller checks)."""
    pending = list(services)
    deadline = time.monotonic() + READY_TIMEOUT_S
    # A new connection for every look: instances sharing a port are each given some of them,
    # and an answer names the instance that gave it.
    with httpx.Client(timeout=2.0, headers={"Connection": "close"}) as client:
        while pending and not stop.requested:
            for svc in list(pending):
                if svc.exit_code() is not None:
                    return svc
                try:
                    answer = client.get(f"{svc.url}/health")
                except httpx.HTTPError:
                    continue  # not listening yet
                if answer.status_code == 200:
                    for ready in _answering(pending, svc, answer):
                        pending.remove(ready)
            if pending and time.monotonic() > deadline:
                return pending[0]
            time.sleep(TICK_S)
    return None


def _answering(pending: list[Service], asked: Service, answer: httpx.Response) -> list[Service]:
    """The pending instance that gave a healthy answer at ``asked``'s url."""
    if not asked.shared:
        return [asked]  # alone on its port, whatever instance name it was given
    try:
        instance = str(answer.json().get("instance", asked.instance))
    except ValueError:
        instance = asked.instance
    return [s for s in pending if s.url == asked.url and s.instance == instance][:1]


def supervise(children: list[Supervised], stop: StopFlag) -> None:
    while not stop.requested:
        now = time.monotonic()
        for svc in children:
            if svc.restart_at is not None:
                if now >= svc.restart_at:
                    svc.restart_at = None
                    svc.start()
                    if isinstance(svc, Server) and svc.failed_start:
                        say(f"{svc.label} did not start: {svc.failed_start}")
                    else:
                        say(f"{svc.label} restarted")
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
            say(f"{svc.label} {_how(code)}; restarting in {delay:.0f} s; log: {svc.log_path}")
        time.sleep(TICK_S)


def _how(code: int) -> str:
    if code == EXIT_UNKNOWN:
        return "stopped"  # PostgreSQL is not our child: its exit status is not ours to see
    if code < 0:
        return f"was killed (signal {-code})"
    return f"exited ({code})"


def stop_services(services: list[Service]) -> None:
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


def instances(
    name: str, url: str, env: dict[str, str], logs: Path, settings: Settings
) -> list[Service]:
    """The processes of one service: one, or several on one port, each with its own
    instance name (its signing key and its events' source) and log. Several keep their
    counters in one directory, emptied here (a previous run's would be counted), so that
    ``/metrics`` sums them whichever instance takes the scrape."""
    count = settings.instances_for(name)
    if count == 1:
        return [Service(name, url, env, logs / f"{name}.log")]
    counters = settings.data_dir / "run" / "metrics" / name
    shutil.rmtree(counters, ignore_errors=True)
    counters.mkdir(parents=True)
    shared_env = {**env, "RELAIS_REUSE_PORT": "1", "PROMETHEUS_MULTIPROC_DIR": str(counters)}
    return [
        Service(
            name,
            url,
            {**shared_env, "RELAIS_INSTANCE": str(n)},
            logs / f"{name}-{n}.log",
            instance=str(n),
            shared=True,
        )
        for n in range(1, count + 1)
    ]
