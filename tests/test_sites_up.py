"""A regional office in one command: ``relais up --site parakou --hub ... --hub-credentials``
against a hub whose embedded nats-server is configured as ``relais up`` configures it
(``RELAIS_LEAF_PORT``) and whose office login comes from ``relais sites add``.

The office registers a report while the hub is down; once the hub is back the office's
events reach it, the hub's streams source them, ``relais sites status`` says so, and
``relais audit verify`` passes on both sides."""

from __future__ import annotations

import asyncio
import json
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import nats
import pytest

from relais.audit import run_verify
from relais.embedded import NatsServer, free_port
from relais.site_status import StreamState, sites_status
from relais.streams import apply_streams
from relais.up import embedded_nats
from shared.auth import LocalIssuer
from shared.config import Settings
from shared.nats_accounts import ADMIN, load_or_create_passwords
from shared.reading import iter_stored
from tests.test_up import Up, _kill_tree, _wait_for_services, make_env

pytestmark = [pytest.mark.system, pytest.mark.xdist_group("deployments")]

CATCH_UP_S = 45.0  # a broken source is retried at the server's 10 s health checks


def relais(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "relais.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


async def _status(url: str, password: str) -> list[StreamState]:
    nc = await nats.connect(url, user=ADMIN, password=password, max_reconnect_attempts=1)
    try:
        return await sites_status(nc)
    finally:
        await nc.close()


async def _subjects(url: str, password: str, stream: str, subjects: str) -> list[str]:
    nc = await nats.connect(url, user=ADMIN, password=password, max_reconnect_attempts=1)
    try:
        return [subject async for _, subject, _ in iter_stored(nc, stream, subjects)]
    finally:
        await nc.close()


def _start_office(env: dict[str, str], data_dir: Path, *args: str) -> Up:
    process = subprocess.Popen(
        [sys.executable, "-m", "relais.cli", "up", "--data-dir", str(data_dir), *args],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    up = Up(process, data_dir)

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            up.lines.put(line)
        up.lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return up


def _wait_line(up: Up, text: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not any(text in line for line in up.output):
        try:
            line = up.lines.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            line = None
        if line is None:
            pytest.fail(f"relais up never said {text!r}\n{up.diagnostics()}")
        up.output.append(line)


def test_office_registers_offline_and_the_hub_catches_up(tmp_path: Path) -> None:
    hub_dir, office_dir = tmp_path / "hub", tmp_path / "office"
    hub_env, office_env = make_env(), make_env()
    taken = {v for env in (hub_env, office_env) for k, v in env.items() if k.endswith("_PORT")}
    leaf_port = free_port()
    while str(leaf_port) in taken:
        leaf_port = free_port()
    hub_env.update({"RELAIS_SITE": "hq", "RELAIS_LEAF_PORT": str(leaf_port)})
    hub_env["RELAIS_LEAF_HOST"] = "127.0.0.1"

    hub_settings = Settings(
        data_dir=hub_dir.resolve(),
        site="hq",
        leaf_port=leaf_port,
        leaf_host="127.0.0.1",
        embedded_nats_port=int(hub_env["RELAIS_EMBEDDED_NATS_PORT"]),
    )
    passwords = load_or_create_passwords(hub_settings.nats_users_path)
    hub: NatsServer = embedded_nats(hub_settings, passwords)
    hub_admin = passwords[ADMIN]
    office: Up | None = None
    timings: dict[str, float] = {}
    try:
        hub.start()
        # At the hub, running: the office's login (the server reloads its accounts); its
        # streams do not exist yet, so the office's relais up links them.
        credentials = tmp_path / "parakou.json"
        # A token the hub signed (its local key, created by the first use), valid at the
        # office once the office signs with the same key (--share-token-key).
        token = LocalIssuer.load(hub_dir / "keys").mint(
            user="u-op", agency="ocpm", roles=["hotline_operator"], unit=None, ttl_s=3600
        )
        added = relais(
            "sites", "add", "parakou", "--output", str(credentials), "--share-token-key",
            "--data-dir", str(hub_dir), env=hub_env,
        )  # fmt: skip
        assert added.returncode == 0, added.stderr
        assert credentials.stat().st_mode & 0o077 == 0
        assert json.loads(credentials.read_text())["hub_site"] == "hq"
        assert "reloaded" in added.stdout, added.stdout
        asyncio.run(apply_streams(hub.url, site="hq", user=ADMIN, password=hub_admin))

        started = time.monotonic()
        office = _start_office(
            office_env,
            office_dir,
            "--site",
            "parakou",
            "--hub",
            f"nats-leaf://127.0.0.1:{leaf_port}",
            "--hub-credentials",
            str(credentials),
        )
        _wait_for_services(office, office_env)
        timings["office up"] = time.monotonic() - started
        # The office's command linked the hub's streams to the office's, through the leaf node;
        # at the hub, linking again changes nothing.
        _wait_line(office, "hub hq linked to parakou: INTAKE <- parakou")
        again = relais("sites", "link", "parakou", "--data-dir", str(hub_dir), env=hub_env)
        assert again.returncode == 0, again.stderr
        assert "already linked" in again.stdout
        # An office the hub learns of later: the running office copies its events too.
        later = relais(
            "sites", "add", "natitingou", "--output", str(tmp_path / "natitingou.json"),
            "--data-dir", str(hub_dir), env=hub_env,
        )  # fmt: skip
        assert later.returncode == 0, later.stderr
        _wait_line(office, "parakou copies, through hub hq: INTAKE <- natitingou")
        office_url = f"nats://127.0.0.1:{office_env['RELAIS_EMBEDDED_NATS_PORT']}"
        office_admin = json.loads((office_dir / "nats" / "users.json").read_text())[ADMIN]
        intake = f"http://127.0.0.1:{office_env['RELAIS_INTAKE_PORT']}"
        assert (office_dir / "keys" / "token-signing.pem").read_bytes() == (
            hub_dir / "keys" / "token-signing.pem"
        ).read_bytes()
        headers = {"Authorization": f"Bearer {token}", "Accept-Language": "en"}

        hub.stop()  # the hub goes away: the office keeps registering
        body = {
            "channel": "hotline_116",
            "received_at": "2026-12-01T10:00:00+00:00",
            "commune": "bj-borgou-parakou",
            "concerns": ["child_labour"],
            "children": [{"sex": "female", "age_years": 11}],
        }
        answer = httpx.post(
            f"{intake}/reports",
            json=body,
            headers={**headers, "Idempotency-Key": "offline-1"},
            timeout=30,
        )
        assert answer.status_code == 201, answer.text
        on_office = asyncio.run(_subjects(office_url, office_admin, "INTAKE", "intake.parakou.>"))
        assert on_office and all(s.startswith("intake.parakou.") for s in on_office)

        restarted = time.monotonic()
        hub.restart()  # as relais up's supervision restarts it
        deadline = restarted + CATCH_UP_S
        on_hub: list[str] = []
        while time.monotonic() < deadline:
            on_hub = asyncio.run(_subjects(hub.url, hub_admin, "INTAKE", "intake.parakou.>"))
            if on_hub == on_office:
                break
            time.sleep(0.5)
        assert on_hub == on_office, "the office's report did not reach the hub"
        timings["on the hub after restart"] = time.monotonic() - restarted

        text = relais("sites", "status", "--data-dir", str(office_dir), env=office_env)
        assert text.returncode == 0, text.stderr
        assert "site parakou" in text.stdout and "hq" in text.stdout
        streams = {s.stream: s for s in asyncio.run(_status(hub.url, hub_admin))}
        assert streams["INTAKE"].site == "hq"
        [from_office] = [s for s in streams["INTAKE"].sources if s.site == "parakou"]
        assert from_office.last_seq > 0 and from_office.lag == 0, from_office

        for url, password, site in (
            (hub.url, hub_admin, "hq"),
            (office_url, office_admin, "parakou"),
        ):
            code = run_verify(url, user=ADMIN, password=password, site=site)
            assert code == 0, f"relais audit verify failed at {site}"
    finally:
        if office is not None and office.process.poll() is None:
            _kill_tree(office)
        hub.stop(kill=True)
    print(" ".join(f"{k}: {v:.2f}s" for k, v in timings.items()))
