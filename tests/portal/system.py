"""The whole system for the portal's tests, started once per test module: a nats-server, the
session's PostgreSQL, intake, referral and casework in-process, and the portal served over
real HTTP on loopback (a browser needs a socket), calling the services in-process."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import nats
import uvicorn
from argon2 import PasswordHasher
from fastapi import FastAPI

from relais.embedded import NatsServer, free_port
from services.casework.config import CaseworkConfig
from services.casework.service import build_spec as casework_build_spec
from services.intake.service import spec as intake_spec
from services.portal.app import credentials
from services.portal.service import create_portal
from services.portal.web.context import Portal
from services.referral.service import spec as referral_spec
from services.reporting.service import spec as reporting_spec
from shared.auth import LocalIssuer
from shared.config import Settings
from shared.envelope import Actor
from shared.service import create_app
from shared.streams import CONTEXTS, ensure_streams

PASSWORD = "une phrase assez longue"
OPERATOR = Actor(user="operator", agency="relais", role="operator")


@dataclass
class System:
    root: Path
    pg_url: str
    portal_settings: dict[str, Any] = field(default_factory=dict)
    nats: NatsServer | None = None
    settings: Settings | None = None
    apps: dict[str, FastAPI] = field(default_factory=dict)
    clients: dict[str, httpx.AsyncClient] = field(default_factory=dict)
    portal_app: FastAPI | None = None
    server: uvicorn.Server | None = None
    serving: asyncio.Task[None] | None = None
    base_url: str = ""
    _hasher: PasswordHasher = field(default_factory=PasswordHasher)

    @property
    def portal(self) -> Portal:
        assert self.portal_app is not None
        portal: Portal = self.portal_app.state.portal
        return portal

    @property
    def issuer(self) -> LocalIssuer:
        assert self.settings is not None
        return LocalIssuer.load(self.settings.keys_dir)

    async def start(self) -> System:
        # Still Argon2id, at a cost a test machine shared by many can afford; every stored hash
        # names its own parameters, so verifying is unchanged.
        self._hasher = credentials.HASHER
        credentials.HASHER = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)
        self.nats = NatsServer(self.root / "nats", port=free_port()).start()
        nc = await nats.connect(self.nats.url)  # the operator makes the streams
        await ensure_streams(nc.jetstream(), "hq", contexts=CONTEXTS)
        await nc.close()
        port = free_port()
        self.base_url = f"http://127.0.0.1:{port}"
        self.settings = Settings(
            nats_url=self.nats.url,
            database_url=self.pg_url,
            data_dir=self.root / "data",
            database_prefix=f"t{uuid.uuid4().hex[:10]}_",
            portal_url=self.base_url,
            portal_backoff_seconds=0.2,
            portal_lockout_after=4,
            **self.portal_settings,
        )
        transports: dict[str, httpx.AsyncBaseTransport] = {}
        for name, spec in (
            ("referral", referral_spec),
            ("casework", casework_build_spec(CaseworkConfig(policy_interval_s=0.05))),
            ("intake", intake_spec),
            ("reporting", reporting_spec),  # portal2b: statistics and audit
        ):
            app = create_app(spec, self.settings)
            await app.state.runtime.start()
            self.apps[name] = app
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            transports[name] = transport
            self.clients[name] = httpx.AsyncClient(transport=transport, base_url=f"http://{name}")
        self.portal_app = create_portal(self.settings, transports=transports)
        config = uvicorn.Config(
            self.portal_app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            access_log=False,
            lifespan="on",
        )
        self.server = uvicorn.Server(config)
        self.serving = asyncio.create_task(self.server.serve())
        while not self.server.started:
            assert not self.serving.done(), "the portal did not start"
            await asyncio.sleep(0.02)
        return self

    async def stop(self) -> None:
        if self.server is not None and self.serving is not None:
            self.server.should_exit = True
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(self.serving, 15)
        for client in self.clients.values():
            await client.aclose()
        for app in reversed(list(self.apps.values())):
            await app.state.runtime.stop()
        if self.nats is not None:
            self.nats.stop()
        credentials.HASHER = self._hasher

    # -- people and the directory ----------------------------------------------------------

    async def account(
        self,
        email: str,
        roles: list[str],
        agency: str,
        *,
        unit: str | None = None,
        name: str | None = None,
        password: str | None = PASSWORD,
    ) -> str:
        """An account as ``relais user add`` makes it, with its password chosen (None: the
        set-up link is returned instead of the id)."""
        issued = await self.portal.accounts.create(
            email=email,
            display_name=name,
            agency=agency,
            unit=unit,
            roles=roles,
            actor=OPERATOR,
            by_operator=True,
        )
        if password is None:
            return issued.link
        link = self.portal.accounts.links.read(issued.link.rsplit("/", 1)[1])
        assert link is not None
        await self.portal.accounts.password_chosen(link)
        hashed = await credentials.hash_password(password)
        await credentials.store_password(
            self.portal.engine, issued.account_id, hashed, link.issued_at
        )
        return issued.account_id

    def token(self, role: str, user: str, agency: str, unit: str | None = None) -> dict[str, str]:
        token = self.issuer.mint(user=user, agency=agency, roles=[role], unit=unit)
        return {"Authorization": f"Bearer {token}"}

    async def ok(
        self,
        service: str,
        method: str,
        url: str,
        headers: dict[str, str],
        body: Any = None,
        status: int = 200,
    ) -> dict[str, Any]:
        answer = await self.clients[service].request(method, url, headers=headers, json=body)
        assert answer.status_code == status, f"{method} {url}: {answer.text}"
        result: dict[str, Any] = answer.json()
        return result

    async def directory(
        self, agency: str, units: list[tuple[str, str]], staff: list[tuple[str, str]]
    ) -> None:
        """An agency, its units, and staff (account id, unit) in referral's directory."""
        admin = self.token("agency_admin", f"admin-{agency}", agency)
        await self.ok(
            "referral",
            "POST",
            "/agencies",
            admin,
            {"agency_id": agency, "name": agency.upper(), "type": "government"},
            status=201,
        )
        for unit_id, name in units:
            body = {
                "agency_id": agency,
                "name": name,
                "commune": "bj-littoral-cotonou",
                "service_kinds": ["psychological", "social_support"],
                "opening_hours": {d: ["08:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")},
            }
            await self.ok("referral", "PUT", f"/units/{unit_id}", admin, body)
        for staff_id, unit_id in staff:
            member = {
                "staff_id": staff_id,
                "unit": unit_id,
                "sector": "social_services",
                "role": "case_worker",
                "display_name": "Staff member",
            }
            await self.ok("referral", "POST", "/staff", admin, member, status=201)

    async def caught_up(self, reader: str, stream: str) -> None:
        """Wait until ``reader``'s projectors on ``stream`` have everything written so far."""
        runtime = self.apps[reader].state.runtime
        last = (await runtime.nc.jetstream().stream_info(stream)).state.last_seq
        for projector in runtime.projectors:
            if projector.stream == stream:
                assert await projector.wait_for(last, 15), projector.label
