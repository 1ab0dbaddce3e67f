"""The README stays true: its permission tables are the services' tables."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.system

ROOT = Path(__file__).resolve().parents[1]


def test_readme_shows_the_current_permission_tables() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    shown = readme.split("<!-- permissions:start -->")[1].split("<!-- permissions:end -->")[0]
    generated = subprocess.run(
        [sys.executable, "-m", "relais.cli", "permissions"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    assert shown.strip() == generated.strip(), "run: relais permissions, and update README.md"


def test_readme_names_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make run" in readme and "make test" in readme
