"""The README's subscriber, as printed, against ``relais up`` with credentials from ``relais
integrators add`` (made while everything runs): it receives a report registered on the
intake API, in its public shape, and nothing of the child."""

from __future__ import annotations

import asyncio
import json
import queue
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import nats
import pytest

from tests.test_up import (  # noqa: F401 - fixtures
    Up,
    _interrupt,
    _wait_for_services,
    env,
    start,
)

pytestmark = [pytest.mark.system, pytest.mark.xdist_group("deployments")]

ROOT = Path(__file__).resolve().parents[1]
CHILD = "Fatoumata Diallo"
WAIT_S = 60.0


def readme_snippet() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(
        r"<!-- feed-snippet:start -->\s*```python\n(.*?)```\s*<!-- feed-snippet:end -->",
        text,
        re.DOTALL,
    )
    assert found, "README.md has no feed snippet"
    return found.group(1)


def relais(environ: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "relais.cli", *args],
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_readme_subscriber_receives_the_public_feed(
    tmp_path: Path,
    env: dict[str, str],  # noqa: F811 - the fixture
    start: Callable[[Path], Up],  # noqa: F811 - the fixture
) -> None:
    snippet = readme_snippet()
    assert len(snippet.strip().splitlines()) <= 20
    data_dir = tmp_path / "data"
    up = start(data_dir)
    _wait_for_services(up, env)

    creds = tmp_path / "ministry.json"
    here = ("--data-dir", str(data_dir))
    added = relais(
        env, "integrators", "add", "ministry", "--output", str(creds), "--data-dir", str(data_dir)
    )
    assert added.returncode == 0, added.stdout + added.stderr
    assert "ministry can log in" in added.stdout, added.stdout

    token = relais(
        env,
        *("token", "--user", "awa", "--agency", "ocpm", "--role", "hotline_operator"),
        *("--data-dir", str(data_dir)),
    ).stdout.strip()
    received = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    answer = httpx.post(
        f"http://127.0.0.1:{env['RELAIS_INTAKE_PORT']}/reports",
        headers={"Authorization": f"Bearer {token}"},
        json={
            "channel": "hotline_116",
            "received_at": received,
            "commune": "bj-borgou-parakou",
            "concerns": ["child_labour"],
            "children": [{"name": CHILD, "sex": "female", "age_years": 11}],
        },
        timeout=30,
    )
    assert answer.status_code in (201, 202), answer.text

    script = tmp_path / "subscriber.py"
    script.write_text(snippet, encoding="utf-8")
    subscriber = subprocess.Popen(
        [sys.executable, str(script), str(creds)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(
        target=lambda: [lines.put(line) for line in subscriber.stdout or []], daemon=True
    ).start()
    try:
        seen: list[str] = []
        deadline = time.monotonic() + WAIT_S
        while not any("org.relais.public.intake.ReportRegistered.v1" in s for s in seen):
            try:
                seen.append(lines.get(timeout=max(0.1, deadline - time.monotonic())))
            except queue.Empty:
                subscriber.kill()
                errors = subscriber.stderr.read() if subscriber.stderr else ""
                raise AssertionError(f"nothing received: {seen}\n{errors}") from None
        line = next(s for s in seen if "ReportRegistered" in s)
        _, subject, data = line.split(" ", 2)
        public = json.loads(data)
        assert subject.startswith("report_")
        assert public["department"] == "bj-borgou" and public["children"] == 1
        assert CHILD not in "".join(seen) and "awa" not in "".join(seen)

        # The other commands find the running system by themselves.
        listed = json.loads(relais(env, "integrators", "list", "--json", *here).stdout)
        assert [(i["name"], i["revoked_at"]) for i in listed] == [("ministry", None)]
        deliveries = relais(env, "integrators", "deliveries", "ministry", "--json", *here)
        assert deliveries.returncode == 0, deliveries.stderr
        assert json.loads(deliveries.stdout)["webhook"] is None
        # Revoked: the server reloads and refuses the credentials at once.
        revoked = relais(env, "integrators", "revoke", "ministry", *here)
        assert revoked.returncode == 0 and "reloaded" in revoked.stdout, revoked.stdout
        handed = json.loads(creds.read_text())

        async def refused() -> None:
            with pytest.raises(nats.errors.Error, match="Authorization Violation"):
                await nats.connect(
                    handed["url"],
                    user=handed["user"],
                    password=handed["password"],
                    allow_reconnect=False,
                )

        asyncio.run(refused())
    finally:
        if subscriber.poll() is None:
            subscriber.terminate()
            subscriber.wait(10)
    _interrupt(up, env)
