"""docker-compose.yml and the Dockerfile agree with the code (no Docker engine needed)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from shared.config import PORTAL, PROCESSES, SERVICES, Settings

pytestmark = pytest.mark.domain

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


def test_nats_has_a_user_per_service_and_the_integrators_accounts(
    compose: dict[str, Any],
) -> None:
    """The accounts block is written by `relais nats-accounts` before NATS starts, into a
    volume NATS includes; each service names its user and reads its password from the shared
    data volume; integrators reach the client port."""
    services = compose["services"]
    writer = services["nats-accounts"]
    command = " ".join(writer["command"])
    assert "relais nats-accounts" in command and "--output /accounts/accounts.conf" in command
    assert environment(writer)["RELAIS_NATS_ACCOUNTS_FILE"] == "/accounts/accounts.conf"
    assert {"relais-data:/data", "nats-accounts:/accounts"} <= set(writer["volumes"])
    nats = services["nats"]
    assert nats["depends_on"]["nats-accounts"]["condition"] == "service_completed_successfully"
    assert "nats-accounts:/etc/nats/accounts:ro" in nats["volumes"]
    assert "4222:4222" in [str(p) for p in nats["ports"]]
    config = (ROOT / "deploy" / "nats" / "single.conf").read_text()
    assert 'include "accounts/accounts.conf"' in config  # relative to /etc/nats/relais.conf
    for name in PROCESSES:
        env = environment(services[name])
        assert env["RELAIS_NATS_USER"] == name and "RELAIS_NATS_PASSWORD" not in env
        assert Settings(data_dir=Path("/data")).nats_users_path == Path("/data/nats/users.json")
    assert "mkdir -p /data /accounts" in (ROOT / "Dockerfile").read_text()
    assert "COPY contracts ./contracts" in (ROOT / "Dockerfile").read_text()


def test_the_compose_nats_config_lets_services_and_integrators_in(tmp_path: Path) -> None:
    """deploy/nats/single.conf as the compose file runs it (only its addresses and store
    replaced), including what `relais nats-accounts` and `relais integrators add` write: a
    service logs in with its name and the shared password file, an integrator with its
    credentials, and a reload lets a new integrator in."""
    import asyncio
    import json
    import signal
    import subprocess
    import sys

    import nats

    from relais import integrators as integrators_cli
    from relais.embedded import free_port, nats_server_binary
    from tests.sites_support import deploy_config

    data, etc = tmp_path / "data", tmp_path / "etc"
    port = free_port()
    (etc / "accounts").mkdir(parents=True)
    config = etc / "relais.conf"
    config.write_text(
        deploy_config(
            "single.conf",
            {
                "listen: 0.0.0.0:4222": f"listen: 127.0.0.1:{port}",
                "http: 0.0.0.0:8222": f"http: 127.0.0.1:{free_port()}",
                'store_dir: "/data"': f'store_dir: "{tmp_path / "js"}"',
            },
        )
    )
    env = {**os.environ, "RELAIS_NATS_ACCOUNTS_FILE": str(etc / "accounts" / "accounts.conf")}
    env.pop("NATS_URL", None)

    def relais(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "relais.cli", *args, "--data-dir", str(data)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        return done.stdout

    relais("nats-accounts", "--output", str(etc / "accounts" / "accounts.conf"))
    # What `relais integrators add` does, in this process (each command line start costs
    # seconds on a loaded machine; the command line itself is run in test_integrator_snippet).
    compose_settings = Settings(
        data_dir=data, nats_accounts_file=etc / "accounts" / "accounts.conf"
    )

    def add(name: str) -> None:
        said = asyncio.run(
            integrators_cli.add(compose_settings, name, None, tmp_path / f"{name}.json", None)
        )
        assert said.code == 0, said

    add("ministry")
    server = subprocess.Popen(
        [nats_server_binary(), "-c", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    async def logins() -> None:
        url = f"nats://127.0.0.1:{port}"
        for _ in range(100):
            try:
                probe = await nats.connect(url, allow_reconnect=False, connect_timeout=1)
            except nats.errors.Error:  # no anonymous access: it answers, so it is up
                break
            except OSError:
                await asyncio.sleep(0.05)
                continue
            await probe.close()
            raise AssertionError("anonymous login accepted")
        user, password = Settings(data_dir=data, nats_user="reporting").nats_login()
        service = await nats.connect(url, user=user, password=password, allow_reconnect=False)
        handed = json.loads((tmp_path / "ministry.json").read_text())
        integrator = await nats.connect(
            url, user=handed["user"], password=handed["password"], allow_reconnect=False
        )
        await service.close()
        await integrator.close()

    try:
        asyncio.run(logins())
        # Added while it runs: the file is rewritten; the operator's reload lets it in.
        add("ngo")
        server.send_signal(signal.SIGHUP)
        handed = json.loads((tmp_path / "ngo.json").read_text())

        async def ngo_logs_in() -> None:
            for _ in range(100):
                try:
                    nc = await nats.connect(
                        f"nats://127.0.0.1:{port}",
                        user="ngo",
                        password=handed["password"],
                        allow_reconnect=False,
                    )
                except (nats.errors.Error, OSError):  # refused, or cut during the reload
                    await asyncio.sleep(0.05)
                    continue
                await nc.close()
                return
            raise AssertionError("the new integrator was not let in")

        asyncio.run(ngo_logs_in())
    finally:
        server.terminate()
        server.wait(10)


def test_the_portal_reaches_each_service_on_the_compose_network(compose: dict[str, Any]) -> None:
    portal = compose["services"][PORTAL]
    env = environment(portal)
    settings = Settings()
    for name in SERVICES:
        assert env[f"RELAIS_{name.upper()}_URL"] == f"http://{name}:{settings.port_for(name)}"
        assert portal["depends_on"][name]["condition"] == "service_healthy"
    assert "relais-data:/data" in portal["volumes"]  # the token and link keys it shares


def test_the_cluster_profile_runs_three_nodes_two_instances_and_a_database_each(
    compose: dict[str, Any],
) -> None:
    """`docker compose --profile cluster up -d hq-portal`: three nodes of deploy/nats/hq, R3
    streams, a PostgreSQL per service and two instances of each service (tests/test_cluster.py
    runs the node file itself)."""
    services = compose["services"]
    cluster = {name for name, s in services.items() if "cluster" in (s.get("profiles") or [])}
    assert not {"nats", "postgres", "streams", *PROCESSES} & cluster  # one host stays as it was
    nodes = [f"nats-{n}" for n in (1, 2, 3)]
    for node in nodes:
        assert services[node]["image"].startswith("nats:2.14")
        assert environment(services[node])["RELAIS_NATS_NODE"] == node
        assert "./deploy/nats/hq/node.conf:/etc/nats/relais.conf:ro" in services[node]["volumes"]
        assert "hq-nats-accounts:/etc/nats/accounts:ro" in services[node]["volumes"]
    config = (ROOT / "deploy" / "nats" / "hq" / "node.conf").read_text()
    assert "server_name: $RELAIS_NATS_NODE" in config
    assert 'include "accounts/accounts.conf"' in config and "sync_interval: always" in config
    assert all(f"nats-route://{node}:6222" in config for node in nodes)
    assert environment(services["hq-streams"])["RELAIS_NATS_REPLICAS"] == "3"
    assert services["hq-streams"]["entrypoint"] == ["relais", "streams", "apply"]
    databases = set()
    fields = set(Settings.model_fields)
    for name in SERVICES:
        instances = [services[f"hq-{name}-{i}"] for i in (1, 2)]
        assert [environment(s)["RELAIS_INSTANCE"] for s in instances] == ["1", "2"]
        for service in instances:
            env = environment(service)
            assert env["RELAIS_SERVICE"] == name and env["RELAIS_NATS_USER"] == name
            assert env["RELAIS_NATS_REPLICAS"] == "3"
            assert env["NATS_URL"] == ",".join(f"nats://{node}:4222" for node in nodes)
            assert f"@hq-postgres-{name}:5432/" in env["DATABASE_URL"]
            databases.add(env["DATABASE_URL"])
            assert {"nats-1", "nats-2", "nats-3", "hq-streams"} <= set(service["depends_on"])
            assert service["networks"]["default"]["aliases"] == [f"hq-{name}"]
            for variable in env:
                if variable not in SERVER_URL_VARIABLES:
                    assert variable.removeprefix("RELAIS_").lower() in fields, variable
        assert f"hq-postgres-{name}" in cluster
    assert len(databases) == len(SERVICES)  # a PostgreSQL per service, both instances on it
    portal = services["hq-portal"]
    assert {f"hq-{name}-{i}" for name in SERVICES for i in (1, 2)} <= set(portal["depends_on"])
    assert environment(portal)["RELAIS_INTAKE_URL"] == "http://hq-intake:8001"
    published = [str(p) for s in cluster for p in services[s].get("ports") or []]
    assert len(published) == len(set(published))
