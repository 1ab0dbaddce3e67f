"""``relais bench --scenario intake-http``: real report registrations, sent open-loop at a
given rate through a whole system that the bench starts itself (``relais up`` on the
embedded default, in a directory of its own), and what came back: latency percentiles,
status counts, whether every 2xx registration is in the log exactly once, and the CPU each
process used.

What is sent, and how (open-loop, from several processes): ``relais/bench_senders.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import nats

from relais.bench_results import err, write_results
from relais.bench_senders import AGENCY, ROLE, USER, drive_with_senders, report_of
from relais.embedded import free_port
from relais.rebuild import RUN_FILE
from shared.auth import LocalIssuer
from shared.config import PROCESSES
from shared.nats_accounts import ADMIN
from shared.reading import iter_stored

READY_TIMEOUT_S = 180.0
STOP_TIMEOUT_S = 60.0


class System:
    """``relais up`` in a subprocess on free ports; stopped with SIGINT like a person would."""

    def __init__(self, data_dir: Path, intake_instances: int = 1) -> None:
        self.data_dir = data_dir
        self.env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("NATS_URL", "DATABASE_URL", "RELAIS_DATA_DIR")
            and not (k.startswith("RELAIS_") and k.endswith("_PORT"))
        }
        self.env["RELAIS_EMBEDDED_NATS_PORT"] = str(free_port())
        self.env["RELAIS_INTAKE_INSTANCES"] = str(intake_instances)
        for name in PROCESSES:
            self.env[f"RELAIS_{name.upper()}_PORT"] = str(free_port())
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.env[f'RELAIS_{name.upper()}_PORT']}"

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        out = (self.data_dir / "up.log").open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "relais.cli", "up", "--data-dir", str(self.data_dir)],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"relais up exited; see {self.data_dir / 'up.log'}")
            # relais up writes its run file once every process is healthy (each instance of
            # a service sharing a port, not just the one a look happens to reach).
            if (self.data_dir / RUN_FILE).exists() and all(
                self._healthy(name) for name in ("intake", "casework", "reporting")
            ):
                return
            time.sleep(0.5)
        raise RuntimeError(f"relais up not ready in time; see {self.data_dir / 'up.log'}")

    def _healthy(self, name: str) -> bool:
        try:
            return httpx.get(f"{self.url(name)}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def pids(self) -> dict[str, list[int]]:
        """The service processes, by name (from their environments): several when the
        service runs several instances."""
        found: dict[str, list[int]] = {}
        if self.process is None:
            return found
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError):
                environ = (entry / "environ").read_bytes().split(b"\0")
                if f"RELAIS_DATA_DIR={self.data_dir}".encode() not in environ:
                    continue
                for item in environ:
                    if item.startswith(b"RELAIS_SERVICE="):
                        found.setdefault(item.split(b"=", 1)[1].decode(), []).append(
                            int(entry.name)
                        )
        return found

    def servers(self) -> dict[str, list[int]]:
        """The embedded servers' processes: nats-server, and PostgreSQL's postmaster with its
        backends (children of the postmaster, found by their parent)."""
        groups: dict[str, list[int]] = {"nats-server": [], "postgresql": []}
        parents: dict[int, int] = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError):
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
                parents[int(entry.name)] = int(
                    (entry / "stat").read_text().rsplit(")", 1)[1].split()[1]
                )
                if str(self.data_dir).encode() not in cmdline:
                    continue
                if b"nats-server" in cmdline:
                    groups["nats-server"].append(int(entry.name))
                elif b"postgres" in cmdline and b"-D" in cmdline:
                    groups["postgresql"].append(int(entry.name))
        postmasters = set(groups["postgresql"])
        groups["postgresql"] += [pid for pid, parent in parents.items() if parent in postmasters]
        return groups

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


def cpu_seconds(pid: int, *, children: bool = False) -> float:
    """User + system CPU of one process so far (``/proc/<pid>/stat``), with that of its
    children that have ended when ``children`` (PostgreSQL's ended backends)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / os.sysconf("SC_CLK_TCK")


def group_cpu(pids: list[int]) -> dict[int, float]:
    return {pid: cpu_seconds(pid, children=True) for pid in pids}


async def check_log(system: System, keys: list[str]) -> dict[str, int]:
    """How many of the 2xx registrations are in the log exactly once (and how many registered
    reports the log holds in all)."""
    passwords = json.loads((system.data_dir / "nats" / "users.json").read_text())
    nc = await nats.connect(
        f"nats://127.0.0.1:{system.env['RELAIS_EMBEDDED_NATS_PORT']}",
        user=ADMIN,
        password=passwords[ADMIN],
        max_reconnect_attempts=0,
    )
    try:
        found: Counter[str] = Counter()
        async for _, subject, _ in iter_stored(nc, "INTAKE", "intake.*.report.*.ReportRegistered"):
            found[subject.split(".")[3]] += 1
    finally:
        await nc.close()
    wanted = [report_of(k) for k in keys]
    return {
        "answered_2xx": len(wanted),
        "stored_once": sum(1 for r in wanted if found[r] == 1),
        "missing": sum(1 for r in wanted if found[r] == 0),
        "stored_twice_or_more": sum(1 for r in wanted if found[r] > 1),
        "reports_in_log": sum(found.values()),
    }


def run_intake_http(
    *,
    rate: float,
    duration_s: float,
    data_dir: Path,
    json_output: bool,
    senders: int = 2,
    intake_instances: int = 1,
) -> int:
    import shutil

    # A fresh system each run (only the directory this command owns is wiped), so runs compare.
    shutil.rmtree(data_dir / "system", ignore_errors=True)
    system = System((data_dir / "system").resolve(), intake_instances)
    try:
        err.log("starting relais up (embedded default)")
        system.start()
        token = LocalIssuer.load(system.data_dir / "keys").mint(
            user=USER, agency=AGENCY, roles=[ROLE]
        )
        # Other work on the machine changes every figure: the run says how busy it was.
        load_before = os.getloadavg()[0]
        pids = system.pids()
        cpu_before = {name: sum(map(cpu_seconds, group)) for name, group in pids.items()}
        servers = system.servers()
        servers_before = {name: group_cpu(group) for name, group in servers.items()}
        err.log(f"intake-http: {rate:g}/s for {duration_s:g} s, open-loop, {senders} senders")
        result = drive_with_senders(system.url("intake"), token, rate, duration_s, senders)
        cpu = {
            name: round((sum(map(cpu_seconds, group)) - cpu_before[name]) / result["elapsed_s"], 2)
            for name, group in pids.items()
        }
        # The senders are Python processes on the same cores: what they used is not there
        # for the services.
        cpu["bench client"] = round(result.pop("senders_cpu_s") / result["elapsed_s"], 2)
        for name, before in servers_before.items():
            # A backend that began during the run counts from zero; one that ended is in
            # the postmaster's children's time.
            after = group_cpu(sorted(set(servers[name]) | set(system.servers()[name])))
            used = sum(after.values()) - sum(before.values())
            cpu[name] = round(used / result["elapsed_s"], 2)
        stored = result["statuses"].get("201", 0) + result["statuses"].get("202", 0)
        # What one stored registration cost the whole machine: what 2 cores can hold at most.
        per_registration = (
            round(
                1000
                * sum(v for k, v in cpu.items() if k != "bench client")
                * result["elapsed_s"]
                / stored,
                1,
            )
            if stored
            else None
        )
        load_after = os.getloadavg()[0]
        log_check = asyncio.run(check_log(system, result.pop("stored_keys")))
    finally:
        system.stop()
    report = {
        "scenario": "intake-http",
        "rate": rate,
        "duration_s": duration_s,
        "intake_instances": intake_instances,
        **result,
        "log": log_check,
        "cpu_cores_used": cpu,
        "cpu_ms_per_stored_registration": per_registration,
        "cores": os.cpu_count(),
        "load_average_1m": {"before": round(load_before, 2), "after": round(load_after, 2)},
    }
    write_results(report)
    print(json.dumps(report) if json_output else json.dumps(report, indent=2))
    return 0
