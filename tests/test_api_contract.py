"""Each service's OpenAPI document is a contract a generated client can rely on: schemathesis
runs every operation of intake, referral, casework and reporting, served over real HTTP on
loopback with a real nats-server and PostgreSQL, with every check on but the response time
(a shared CI machine's timing proves nothing about the contract). Each request carries the
token of one role the permission table allows on the route, a different one each time.

The budget is small (a few generated cases per operation, plus schemathesis's coverage cases):
the point is that every operation is declared as it behaves, not to load the services.
What is tolerated, and why: docs/decisions/0023-openapi-that-tells-the-truth.md."""

from __future__ import annotations

import asyncio
import itertools
import tempfile
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hypothesis
import nats
import pytest
import schemathesis
import uvicorn
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from schemathesis.checks import max_response_time
from schemathesis.config import SchemathesisConfig

from relais.embedded import NatsServer, free_port
from relais.rebuild import load_spec
from shared.access import Permissions
from shared.auth import LocalIssuer, Role
from shared.config import Settings
from shared.service import create_app
from shared.streams import CONTEXTS, ensure_streams
from tests.test_access_matrix import _principal

pytestmark = [pytest.mark.system, pytest.mark.xdist_group("api_contract")]

SERVICES = ("intake", "referral", "casework", "reporting")
MAX_EXAMPLES = 2

# Statuses each check accepts beyond schemathesis's defaults, and why (decision 0023):
# - 428 is the answer to a missing If-Match (RFC 6585), a required header;
# - a schema-valid request may still break a rule no schema can state (an agency id the
#   directory does not have, a date of birth that makes an adult, a date in the future): 422
#   with the rule's own code; ``schema_rules_hold`` below still fails any 422 that a schema
#   could have prevented (a wrong type, a missing field, a length).
CONFIG = {
    # A parameter given twice (?page=1&page=2) must not be a 500 either. Two undeclared
    # methods per path are enough to check the 405 and its Allow header (the default eight
    # cost a fifth of the run).
    "phases": {
        "coverage": {
            "generate-duplicate-query-parameters": True,
            "unexpected-methods": ["delete", "patch"],
        }
    },
    "checks": {
        "missing_required_header": {"expected-statuses": [400, 401, 403, 406, 415, 422, 428]},
        "positive_data_acceptance": {
            "expected-statuses": ["2xx", "3xx", 401, 403, 404, 409, 422, 429, "5xx"]
        },
    },
}


def schema_rules_hold(ctx: Any, response: Any, case: Any) -> bool | None:
    """A schema-valid request is never refused for what the schema itself says: a 422 on
    positive data must name a rule (a value_error, or a code of its own), never a type,
    a missing field or a length."""
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return None
    if response.status_code != 422:
        return None
    error = response.json().get("error", {})
    if error.get("code") != "invalid_request":
        return True
    schema_level = [f for f in error.get("fields") or [] if f.get("type") != "value_error"]
    if schema_level:
        raise AssertionError(f"schema-valid request refused on schema grounds: {schema_level}")
    return True


class Services:
    """The four services, each behind its own uvicorn on loopback, all in one event loop of
    their own (a thread), so that schemathesis can call them synchronously."""

    def __init__(self, root: Path, pg_url: str) -> None:
        self.root = root
        self.pg_url = pg_url
        self.apps: dict[str, FastAPI] = {}
        self.urls: dict[str, str] = {}
        self.settings: Settings | None = None
        self._ready = threading.Event()
        self._failed: BaseException | None = None
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._run, name="contract-services", daemon=True)
        self.nats: NatsServer | None = None

    def start(self) -> Services:
        self.nats = NatsServer(self.root / "nats", port=free_port()).start()
        self._thread.start()
        self._ready.wait(120)
        if self._failed is not None:
            raise RuntimeError("the services did not start") from self._failed
        assert self._ready.is_set(), "the services did not start in time"
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(60)
        if self.nats is not None:
            self.nats.stop()

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported to start()
            self._failed = exc
            self._ready.set()

    async def _serve(self) -> None:
        assert self.nats is not None
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        nc = await nats.connect(self.nats.url)  # the operator makes the streams
        await ensure_streams(nc.jetstream(), "hq", contexts=CONTEXTS)
        await nc.close()
        self.settings = Settings(
            nats_url=self.nats.url,
            database_url=self.pg_url,
            data_dir=self.root / "data",
            database_prefix=f"t{uuid.uuid4().hex[:10]}_",
        )
        servers: list[tuple[uvicorn.Server, asyncio.Task[None]]] = []
        try:
            for name in SERVICES:
                app = create_app(load_spec(name), self.settings)
                await app.state.runtime.start()
                self.apps[name] = app
                port = free_port()
                server = uvicorn.Server(
                    uvicorn.Config(
                        app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"
                    )
                )
                servers.append((server, asyncio.create_task(server.serve())))
                while not server.started:
                    await asyncio.sleep(0.02)
                self.urls[name] = f"http://127.0.0.1:{port}"
            self._ready.set()
            await self._stop.wait()
        finally:
            for server, task in servers:
                server.should_exit = True
                await asyncio.wait_for(task, 15)
            for app in reversed(list(self.apps.values())):
                await app.state.runtime.stop()


@pytest.fixture(scope="module")
def services(pg_server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    running = Services(tmp_path_factory.mktemp("contract"), pg_server_url).start()
    try:
        yield running
    finally:
        running.stop()


class Tokens:
    """A token for one role the route allows, a different allowed role at each call."""

    def __init__(self, app: FastAPI, issuer: LocalIssuer) -> None:
        self.issuer = issuer
        self.roles: dict[tuple[str, str], itertools.cycle[Role]] = {}
        for context in iter_route_contexts(app.routes):
            route = context.original_route
            if not isinstance(route, APIRoute):
                continue
            allowed = _allowed_roles(route) or list(Role)
            for method in context.methods or ():
                self.roles[(str(context.path_format), method.upper())] = itertools.cycle(allowed)

    def headers(self, path: str, method: str) -> dict[str, str]:
        roles = self.roles.get((path, method.upper()))
        if roles is None:
            return {}
        role = next(roles)
        token = self.issuer.mint(user=f"st-{role.value}", agency="agency-a", roles=[role.value])
        return {"Authorization": f"Bearer {token}"}


def _allowed_roles(route: APIRoute) -> list[Role]:
    for dependency in route.dependant.dependencies:
        action = getattr(dependency.call, "relais_action", None)
        if action is not None:
            permissions: Permissions = dependency.call.relais_permissions  # type: ignore[union-attr]
            return [r for r in Role if permissions.allows(action, _principal(r))]
    return []


def _schema_of(name: str) -> Any:
    # The document as the service serves it; the app built here is never started.
    scratch = Path(tempfile.mkdtemp(prefix="relais-contract-doc-"))
    app = create_app(load_spec(name), Settings(data_dir=scratch))
    return schemathesis.openapi.from_dict(
        app.openapi(), config=SchemathesisConfig.from_dict(CONFIG)
    )


def _contract_test(name: str) -> Any:
    schema = _schema_of(name)

    @schema.parametrize()
    @hypothesis.settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    def test(case: Any, services: Services, tokens: dict[str, Tokens]) -> None:
        headers = tokens[name].headers(case.operation.path, case.method)
        case.call_and_validate(
            base_url=services.urls[name],
            headers=headers,
            excluded_checks=[max_response_time],
            additional_checks=[schema_rules_hold],
            timeout=30,
        )

    return test


@pytest.fixture(scope="module")
def tokens(services: Services) -> dict[str, Tokens]:
    assert services.settings is not None
    issuer = LocalIssuer.load(services.settings.keys_dir)
    return {name: Tokens(app, issuer) for name, app in services.apps.items()}


test_intake_contract = _contract_test("intake")
test_referral_contract = _contract_test("referral")
test_casework_contract = _contract_test("casework")
test_reporting_contract = _contract_test("reporting")
