"""docker-compose.yml and the Dockerfile agree with the code (no Docker engine needed)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from shared.config import PORTAL, PROCESSES, SERVICES, Settings

ROOT = Path(__file__).resolve().parents[1]
SERVER_URL_VARIABLES = {"NATS_URL", "DATABASE_URL"}  # Settings aliases, without the prefix


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):  # the KEY=value form
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def test_every_service_is_there_and_runs_a_module_that_exists(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"nats", "postgres", *PROCESSES} <= set(services)
    for name in PROCESSES:
        env = environment(services[name])
        assert env["RELAIS_SERVICE"] == name
        assert (ROOT / "services" / name / "__main__.py").is_file()
        assert services[name]["build"] in (".", {"context": "."}), name


def test_dockerfile_runs_the_chosen_service_as_a_user(compose: dict[str, Any]) -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim", dockerfile, re.MULTILINE)
    assert 'python -m \\"services.${RELAIS_SERVICE' in dockerfile
    users = re.findall(r"^USER (\S+)", dockerfile, re.MULTILINE)
    assert users and users[-1] not in ("root", "0")
    assert "RELAIS_DATA_DIR=/data" in dockerfile


def test_service_environment_is_known_to_settings(compose: dict[str, Any]) -> None:
    fields = set(Settings.model_fields)
    for name in PROCESSES:
        for variable in environment(compose["services"][name]):
            if variable in SERVER_URL_VARIABLES:
                continue
            assert variable.startswith("RELAIS_"), f"{name}: {variable}"
            assert variable.removeprefix("RELAIS_").lower() in fields, f"{name}: {variable}"


def test_service_connects_to_the_compose_servers(compose: dict[str, Any]) -> None:
    for name in PROCESSES:
        env = environment(compose["services"][name])
        assert env["NATS_URL"] == "nats://nats:4222"
        assert re.fullmatch(
            r"postgresql://postgres:[^@]+@postgres:5432/postgres", env["DATABASE_URL"]
        )
        assert env["RELAIS_HOST"] == "0.0.0.0"
        assert env["RELAIS_DATA_DIR"] == "/data"


def test_published_ports_and_health_checks_match_settings(compose: dict[str, Any]) -> None:
    settings = Settings()
    for name in PROCESSES:
        service = compose["services"][name]
        port = settings.port_for(name)
        assert int(environment(service)["RELAIS_PORT"]) == port
        assert [str(p) for p in service["ports"]] == [f"{port}:{port}"]
        check = " ".join(service["healthcheck"]["test"])
        assert f"http://127.0.0.1:{port}/health" in check


def test_services_start_after_healthy_servers_and_share_the_key_volume(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    for name in SERVICES:
        depends = services[name]["depends_on"]
        assert set(depends) <= set(services)
        assert {d: c["condition"] for d, c in depends.items()} == {
            "nats": "service_healthy",
            "postgres": "service_healthy",
            "streams": "service_completed_successfully",
        }
        assert "relais-data:/data" in services[name]["volumes"]
    for name, service in services.items():
        assert set(service.get("depends_on") or {}) <= set(services), name
        # A one-shot job (restart "no") is done when it exits: no health check.
        assert service.get("restart") == "no" or "healthcheck" in service, name
        for volume in service.get("volumes") or []:
            source = volume.split(":", 1)[0]
            if not source.startswith("."):
                assert source in compose["volumes"], f"{name}: {volume}"


def test_the_operator_creates_the_streams_before_any_service(compose: dict[str, Any]) -> None:
    streams = compose["services"]["streams"]
    assert streams["entrypoint"] == ["relais", "streams", "apply"]
    assert environment(streams)["NATS_URL"] == "nats://nats:4222"
    assert streams["depends_on"] == {"nats": {"condition": "service_healthy"}}


def test_nats_runs_the_repository_config_with_every_write_synced(
    compose: dict[str, Any],
) -> None:
    nats = compose["services"]["nats"]
    assert nats["image"].startswith("nats:2.14")
    mounts = {
        target: source for source, target, *_ in (volume.split(":") for volume in nats["volumes"])
    }
    config_path = nats["command"][nats["command"].index("--config") + 1]
    source = ROOT / mounts[config_path]
    assert source.resolve().is_relative_to(ROOT) and source.is_file()
    text = source.read_text()
    assert "sync_interval: always" in text
    store_dir = re.search(r'store_dir:\s*"([^"]+)"', text)
    assert store_dir is not None and store_dir.group(1) in mounts  # JetStream on a volume
    assert "postgres-data:/var/lib/postgresql/data" in compose["services"]["postgres"]["volumes"]


def test_the_portal_reaches_each_service_on_the_compose_network(compose: dict[str, Any]) -> None:
    portal = compose["services"][PORTAL]
    env = environment(portal)
    settings = Settings()
    for name in SERVICES:
        assert env[f"RELAIS_{name.upper()}_URL"] == f"http://{name}:{settings.port_for(name)}"
        assert portal["depends_on"][name]["condition"] == "service_healthy"
    assert "relais-data:/data" in portal["volumes"]  # the token and link keys it shares
