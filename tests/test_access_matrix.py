"""The access matrix: for every service, every route and every role, the running service
allows exactly what its permission table says. Generated from the tables, so a new route or
rule is checked without editing this test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute

from relais.rebuild import load_spec
from shared.access import Permissions
from shared.auth import LocalIssuer, Role
from shared.config import SERVICES, Settings
from shared.service import ServiceSpec, create_app


def permission_of(route: APIRoute) -> tuple[str, Permissions] | None:
    for dependency in route.dependant.dependencies:
        action = getattr(dependency.call, "relais_action", None)
        if action is not None:
            return action, dependency.call.relais_permissions  # type: ignore[union-attr]
    return None


def guarded_routes(spec: ServiceSpec) -> Iterator[tuple[APIRoute, str, Permissions]]:
    for router in spec.routers:
        for route in router.routes:
            if isinstance(route, APIRoute):
                found = permission_of(route)
                if found is not None:
                    yield route, *found


def test_every_business_route_is_guarded_by_the_permission_table() -> None:
    for service in SERVICES:
        spec = load_spec(service)
        for router in spec.routers:
            for route in router.routes:
                if isinstance(route, APIRoute):
                    assert permission_of(route) is not None, f"{service} {route.path} unguarded"


@pytest.fixture(params=SERVICES)
async def running(
    request: pytest.FixtureRequest, nats_url: str, pg_server_url: str, tmp_path: Path
) -> AsyncIterator[tuple[ServiceSpec, httpx.AsyncClient, LocalIssuer]]:
    spec = load_spec(request.param)
    settings = Settings(
        nats_url=nats_url,
        database_url=pg_server_url,
        data_dir=tmp_path,
        database_prefix=f"t{uuid.uuid4().hex[:10]}_",
    )
    app = create_app(spec, settings)
    await app.state.runtime.start()
    issuer = LocalIssuer.load(settings.keys_dir)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://svc"
        ) as client:
            yield spec, client, issuer
    finally:
        await app.state.runtime.stop()


def concrete(path: str) -> str:
    # Ids nobody has: an allowed role gets past authorisation and then a 404 / 422 / 409.
    out = path
    while "{" in out:
        start, end = out.index("{"), out.index("}")
        out = out[:start] + f"x{uuid.uuid4().hex[:8]}" + out[end + 1 :]
    return out


async def test_each_role_is_allowed_exactly_what_the_table_says(
    running: tuple[ServiceSpec, httpx.AsyncClient, LocalIssuer],
) -> None:
    spec, client, issuer = running
    checked = 0
    for route, action, permissions in guarded_routes(spec):
        for role in Role:
            token = issuer.mint(user=f"u-{role.value}", agency="agency-a", roles=[role.value])
            for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
                answer = await client.request(
                    method,
                    concrete(route.path),
                    headers={"Authorization": f"Bearer {token}", "If-Match": "1"},
                    json={} if method in ("POST", "PUT", "PATCH") else None,
                )
                allowed = permissions.allows(action, _principal(role))
                detail = f"{spec.name} {method} {route.path} as {role.value}: {answer.status_code}"
                if allowed:
                    assert answer.status_code not in (401, 403), detail
                else:
                    assert answer.status_code == 403, detail
                    assert answer.json()["error"]["code"] == "forbidden", detail
                assert answer.status_code < 500, detail + " " + answer.text[:300]
                checked += 1
        no_token = await client.request(sorted(route.methods)[0], concrete(route.path))
        assert no_token.status_code == 401, f"{spec.name} {route.path} without a token"
    print(f"{spec.name}: {checked} route × role × method checks")
    assert checked > 0


def _principal(role: Role) -> Any:
    from shared.auth import Principal

    return Principal(user="u", agency="agency-a", roles=frozenset({role}), unit="unit-a")
