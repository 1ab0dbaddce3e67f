"""``relais bench --json``: the output other tools read (its shape, not the speed it reports)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

# Whole deployments on real servers: one at a time (one xdist worker), not two at once.
pytestmark = [pytest.mark.system, pytest.mark.xdist_group("deployments")]

FIGURES = {"events_per_s", "raw_events_per_s", "ratio", "seconds", "raw_seconds"}
# The replay beside the projector's own puller without a database, too (throughput6).
REPLAY = FIGURES | {"raw_puller_events_per_s", "ratio_to_puller"}
MACHINE = {"cpu", "cores", "memory_gib", "os", "python", "nats_server", "postgresql", "libraries"}


def _positive(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def test_bench_json(tmp_path: Path) -> None:
    results = tmp_path / "results"
    env = {k: v for k, v in os.environ.items() if k not in ("NATS_URL", "DATABASE_URL")}
    env["RELAIS_BENCH_RESULTS"] = str(results)
    # --cluster: the same figures on three nodes with streams of three copies, beside.
    command = [
        "bench", "--json", "--events", "2000", "--cluster", "--data-dir", str(tmp_path / "data")
    ]  # fmt: skip
    proc = subprocess.run(
        [sys.executable, "-m", "relais.cli", *command],
        env=env,
        cwd=tmp_path,  # a default results path, if it were used, would land here too
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]

    report = json.loads(proc.stdout)  # the whole of stdout is one JSON object
    assert set(report) == {"machine", "events", "append", "replay", "cluster"}
    assert report["events"] == 2000
    assert set(report["cluster"]) == {"nodes", "append", "replay"}
    assert report["cluster"]["nodes"] == 3
    for run in (report, report["cluster"]):
        for phase in ("append", "replay"):
            assert set(run[phase]) == (REPLAY if phase == "replay" else FIGURES)
            for name, value in run[phase].items():
                assert _positive(value), f"{phase}.{name} = {value!r}"
    machine = report["machine"]
    assert set(machine) >= MACHINE
    assert _positive(machine["cores"]) and _positive(machine["memory_gib"])
    assert re.match(r"v\d+\.\d+", machine["nats_server"])
    assert re.match(r"\d+", machine["postgresql"])
    assert {"nats-py", "SQLAlchemy", "asyncpg"} <= set(machine["libraries"])

    written = list(results.glob("*.json"))
    assert len(written) == 1
    saved = json.loads(written[0].read_text())
    assert saved.pop("timestamp")
    assert saved == report


def test_bench_matching_json(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["RELAIS_BENCH_RESULTS"] = str(tmp_path / "results")
    command = ["bench", "--scenario", "matching", "--json", "--children", "1000"]
    proc = subprocess.run(
        [sys.executable, "-m", "relais.cli", *command, "--data-dir", str(tmp_path / "data")],
        env=env,
        cwd=Path(__file__).resolve().parents[1],  # the labelled pairs live in tests/data
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    assert set(report) == {"scenario", "quality", "learning", "cost"}
    assert set(report["quality"]) == {"tuning", "held_out"}
    assert {"clipped", "twins", "siblings", "all"} <= set(report["quality"]["held_out"])
    assert (
        report["learning"]["decisions"]["confirmed"] + report["learning"]["decisions"]["rejected"]
        == 50
    )
    cost = report["cost"]
    # A table of 1,000 rows is read whole by the planner; the index shows at 100,000.
    assert cost["children"] == 1000 and isinstance(cost["index_used"], bool)
    assert _positive(cost["ms_per_registration"]["p50"]) and cost["candidates"]["max"] <= 100
    known = cost["known_children_found"]
    # Recall through the index, not only on the labelled pairs (decision 0033).
    assert known["reported_again"] == 100 and known["suggested"] >= 80, known


def test_bench_intake_http_json(tmp_path: Path) -> None:
    """A few registrations through a whole system the bench starts: every one answered,
    counted, and found once in the log."""
    env = {k: v for k, v in os.environ.items() if k not in ("NATS_URL", "DATABASE_URL")}
    env["RELAIS_BENCH_RESULTS"] = str(tmp_path / "results")
    command = ["bench", "--scenario", "intake-http", "--json", "--rate", "4", "--duration", "2"]
    proc = subprocess.run(
        [sys.executable, "-m", "relais.cli", *command, "--data-dir", str(tmp_path / "data")],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    assert report["scenario"] == "intake-http" and report["sent"] == 8
    assert report["senders"] == 2  # each sent its share: every key below is distinct
    assert report["statuses"] == {"201": 8}
    assert report["log"] == {
        "answered_2xx": 8,
        "stored_once": 8,
        "missing": 0,
        "stored_twice_or_more": 0,
        "reports_in_log": 8,
    }
    latency = report["latency_ms"]
    assert set(latency) == {"p50", "p90", "p99", "max"}
    assert 0 < latency["p50"] <= latency["p99"] <= latency["max"]
    assert report["cpu_cores_used"]["intake"] > 0
    assert len(list((tmp_path / "results").glob("*.json"))) == 1
