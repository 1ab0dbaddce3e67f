"""A real referral service (NATS + PostgreSQL) with a clock the test moves, tokens for each
role, and a small directory: the OCPM transit centre in Cotonou and a unit in Djougou."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
from fastapi import FastAPI

from services.referral.config import ReferralConfig, get_config
from services.referral.service import build_spec
from shared.auth import LocalIssuer
from shared.config import Settings
from shared.service import create_app
from shared.streams import ensure_streams

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday


@dataclass
class Clock:
    now: datetime = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Service:
    client: httpx.AsyncClient
    app: FastAPI
    issuer: LocalIssuer
    clock: Clock
    config: ReferralConfig
    _tokens: dict[tuple[Any, ...], str] = field(default_factory=dict)

    @property
    def runtime(self) -> Any:
        return self.app.state.runtime

    def headers(
        self,
        role: str,
        *,
        user: str | None = None,
        agency: str = "ocpm",
        unit: str | None = None,
        key: str | None = None,
        lang: str | None = None,
    ) -> dict[str, str]:
        user = user or f"{role}-{agency}-{unit or 'x'}"
        token = self.issuer.mint(user=user, agency=agency, roles=[role], unit=unit)
        out = {"Authorization": f"Bearer {token}"}
        if key:
            out["Idempotency-Key"] = key
        if lang:
            out["Accept-Language"] = lang
        return out


Starter = Callable[..., Awaitable[Service]]


@pytest.fixture
async def start_service(
    nats_url: str, pg_server_url: str, tmp_path: Path
) -> AsyncIterator[Starter]:
    """Start one or more instances of the service sharing NATS, database and clock; settings
    may be overridden (the same for every instance of a test)."""
    prefix = f"t{uuid.uuid4().hex[:10]}_"
    clock = Clock()
    started: list[tuple[FastAPI, httpx.AsyncClient]] = []
    # Casework's stream exists in any deployment; without it the case projector would wait
    # for its next retry before seeing the events a test appends there.
    nc = await nats.connect(nats_url)
    await ensure_streams(nc.jetstream(), "hq", contexts=("casework",))
    await nc.close()

    async def start(
        instance: str = "1", background: bool = False, clocked: bool = True, **overrides: Any
    ) -> Service:
        """``clocked=False``: the service as deployed, reading its settings and the real time."""
        settings = Settings(
            nats_url=nats_url,
            database_url=pg_server_url,
            database_prefix=prefix,
            data_dir=tmp_path,
            instance=instance,
            **{"referral_escalate_after_hours": 12, **overrides},
        )
        config = ReferralConfig.from_settings(
            settings, clock=clock, interval_s=0.05, requests_interval_s=0.05
        )
        spec = build_spec(config if clocked else None)
        if not background:
            spec.background = []
        app = create_app(spec, settings)
        if clocked:
            app.dependency_overrides[get_config] = lambda: config
        await app.state.runtime.start()
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        client = httpx.AsyncClient(transport=transport, base_url="http://referral")
        started.append((app, client))
        return Service(client, app, LocalIssuer.load(settings.keys_dir), clock, config)

    yield start
    for app, client in started:
        await client.aclose()
        await app.state.runtime.stop()


ADMIN = {"role": "agency_admin", "agency": "ocpm"}
HOURS = {d: ["08:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")}


async def seed(svc: Service) -> None:
    """Two agencies, three units: places 2 at the transit centre, 1 in Djougou."""
    admin = svc.headers("agency_admin", agency="ocpm")
    ngo = svc.headers("agency_admin", agency="upe")
    for body, headers in (
        ({"agency_id": "ocpm", "name": "OCPM", "type": "police"}, admin),
        ({"agency_id": "upe", "name": "UPE Djougou", "type": "ngo"}, ngo),
    ):
        answer = await svc.client.post("/agencies", json=body, headers=headers)
        assert answer.status_code == 201, answer.text
    units = [
        (
            "transit",
            "ocpm",
            admin,
            {
                "name": "Centre de transit OCPM",
                "commune": "bj-littoral-cotonou",
                "service_kinds": ["transit_shelter", "psychological"],
                "expected_services": ["transit_shelter", "psychological", "medical"],
                "supervisor": "sup-ocpm",
            },
            2,
        ),
        (
            "djougou",
            "upe",
            ngo,
            {
                "name": "UPE Djougou",
                "commune": "bj-donga-djougou",
                "service_kinds": ["psychological", "social_support"],
                "min_age": 10,
                "sexes": ["female"],
                "languages": ["fr", "dendi"],
            },
            1,
        ),
        (
            "cpu",
            "ocpm",
            admin,
            {
                "name": "CPU Cotonou",
                "commune": "bj-littoral-cotonou",
                "service_kinds": ["legal_aid"],
            },
            5,
        ),
    ]
    for unit_id, agency, headers, extra, places in units:
        body = {"agency_id": agency, "opening_hours": HOURS, **extra}
        answer = await svc.client.put(f"/units/{unit_id}", json=body, headers=headers)
        assert answer.status_code == 200, answer.text
        answer = await svc.client.put(
            f"/units/{unit_id}/capacity", json={"total": places}, headers=headers
        )
        assert answer.status_code == 200, answer.text


def referral_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "case_id": "case-1",
        "child_id": "child-1",
        "to_unit": "transit",
        "service_kind": "transit_shelter",
        "urgency": "emergency",
        "reason": "Needs a safe bed tonight",
        "consent": {"given": True, "given_by": "guardian", "given_at": "2026-03-02T08:00:00Z"},
        "shared_fields": ["child_age_band", "child_sex", "urgency"],
        "details": {"child_age_band": "10-14", "child_sex": "female"},
    }
    body.update(overrides)
    return body


def worker(svc: Service, **kw: Any) -> dict[str, str]:
    return svc.headers("case_worker", agency="ocpm", **kw)


def coordinator(svc: Service, unit: str = "transit", **kw: Any) -> dict[str, str]:
    agency = "upe" if unit == "djougou" else "ocpm"
    return svc.headers("unit_coordinator", agency=agency, unit=unit, **kw)


@pytest.fixture
async def svc(start_service: Starter) -> Service:
    service = await start_service()
    await seed(service)
    return service
