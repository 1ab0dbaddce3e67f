"""Where ``relais bench`` writes each run's figures, and its console for progress (stderr:
stdout carries only the JSON object in --json mode)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console

from shared.config import Settings

err = Console(stderr=True, log_path=False)


def write_results(report: dict[str, Any]) -> Path:
    """Every run's figures, kept under ``RELAIS_BENCH_RESULTS`` (``bench/results``)."""
    now = datetime.now(UTC)
    results = Settings().bench_results  # the environment as it is now
    results.mkdir(parents=True, exist_ok=True)
    path = results / f"{now.strftime('%Y%m%dT%H%M%SZ')}.json"
    path.write_text(json.dumps({"timestamp": now.isoformat(), **report}, indent=2) + "\n")
    err.log(f"written to {path}")
    return path
