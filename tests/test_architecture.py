"""Every service has the same anatomy (docs/architecture.md), and only ``shared/config.py`` reads
the environment. Which module may import which is checked by import-linter (``make test``
runs ``lint-imports``; the contracts are in ``pyproject.toml``)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.domain

ROOT = Path(__file__).resolve().parents[1]
SERVICES = sorted(p.name for p in (ROOT / "services").iterdir() if (p / "__init__.py").is_file())
PACKAGES = ("domain", "app", "read", "web")
MODULES = ("config.py", "service.py", "__main__.py")
# A service without rules or a read model of its own may leave out those parts, and says why.
# (The portal has both: its account rules, and the account read model projected from AUDIT.)
EXCEPTIONS: dict[str, dict[str, str]] = {}
# Where the environment may be read: the settings, and the places that start processes
# (relais up hands its environment to the services; the embedded PostgreSQL needs a runtime
# directory; the intake-http bench hands its own to the relais up it starts).
ENVIRONMENT_READERS = {
    "shared/config.py",
    "relais/up.py",
    "relais/embedded.py",
    "relais/bench_intake.py",
}


def test_the_four_services_are_found() -> None:
    assert {"intake", "referral", "casework", "reporting"} <= set(SERVICES)


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_has_the_anatomy(service: str) -> None:
    home = ROOT / "services" / service
    exempt = EXCEPTIONS.get(service, {})
    missing = [
        f"{name}/"
        for name in PACKAGES
        if name not in exempt and not (home / name / "__init__.py").is_file()
    ]
    missing += [name for name in MODULES if not (home / name).is_file()]
    assert not missing, f"services/{service} lacks {', '.join(missing)}"
    extra = sorted(
        p.name
        for p in home.iterdir()
        if p.name not in {*PACKAGES, *MODULES, "__init__.py", "__pycache__"}
        and (p.suffix == ".py" or (p / "__init__.py").is_file())
    )
    assert not extra, f"services/{service}: {extra} belong in domain/, app/, read/ or web/"


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_is_wired_in_service_py(service: str) -> None:
    tree = ast.parse((ROOT / "services" / service / "service.py").read_text(encoding="utf-8"))
    names = {
        t.id
        for node in tree.body
        if isinstance(node, ast.Assign)
        for t in node.targets
        if isinstance(t, ast.Name)
    }
    assert "spec" in names, f"services/{service}/service.py defines no spec"
    main = (ROOT / "services" / service / "__main__.py").read_text(encoding="utf-8")
    assert f"services.{service}.service" in main


def _reads_environment(path: Path) -> bool:
    names = ("environ", "getenv", "environb")
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        used = (
            isinstance(node, ast.Attribute)
            and node.attr in names
            and isinstance(node.value, ast.Name)
            and node.value.id == "os"
        )
        imported = (
            isinstance(node, ast.ImportFrom)
            and node.module == "os"
            and any(a.name in names for a in node.names)
        )
        if used or imported:
            return True
    return False


def test_only_the_settings_read_the_environment() -> None:
    readers = {
        str(path.relative_to(ROOT))
        for package in ("shared", "contracts", "services", "relais")
        for path in (ROOT / package).rglob("*.py")
        if _reads_environment(path)
    }
    assert readers <= ENVIRONMENT_READERS, sorted(readers - ENVIRONMENT_READERS)


def test_the_code_points_at_nothing_outside_the_repository() -> None:
    outside = ("DESIGN.md", "library-notes.md", "../shared/")
    found = [
        f"{path.relative_to(ROOT)}: {word}"
        for pattern in ("*.py", "*.md", "*.toml", "*.yml", "*.json")
        for path in ROOT.rglob(pattern)
        if not any(part.startswith(".") for part in path.relative_to(ROOT).parts)
        and path.name != "test_architecture.py"
        for word in outside
        if word in path.read_text(encoding="utf-8", errors="replace")
    ]
    assert not found, found
