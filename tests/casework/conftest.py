"""Casework started for real (NATS, PostgreSQL, projectors, policy loops) with the upstream
services played by an event store that writes INTAKE and REFERRAL as they would."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from nats.aio.client import Client as NATS

from contracts.intake import AcceptedChild, ReportAccepted
from contracts.referral import (
    AgencyRegistered,
    CompetencyAssessed,
    StaffMemberRegistered,
)
from services.casework.config import CaseworkConfig
from services.casework.service import build_spec
from shared.auth import LocalIssuer
from shared.config import Settings
from shared.envelope import Actor, Aggregate
from shared.events import DomainEvent
from shared.eventstore import EventStore
from shared.ids import new_id
from shared.nats_store import NatsEventStore
from shared.recorded import RecordedEvent
from shared.service import Runtime, create_app
from shared.signing import SigningKey
from shared.streams import ensure_streams
from tests.directory_support import shelter_unit

UPSTREAM = Actor(user="upstream", agency="ocpm", role="screener")


class Upstream:
    """Intake and referral, as far as casework can see them: their events."""

    def __init__(self, store: EventStore) -> None:
        self.store = store

    async def emit(
        self,
        context: str,
        type_: str,
        id_: str,
        event: DomainEvent,
        *,
        causation_id: str | None = None,
    ) -> int:
        return (await self.append(context, type_, id_, event, causation_id=causation_id)).seq

    async def append(
        self,
        context: str,
        type_: str,
        id_: str,
        event: DomainEvent,
        *,
        causation_id: str | None = None,
    ) -> RecordedEvent:
        """One event as the upstream service would store it (an answer names its request as
        its cause)."""
        result = await self.store.append(
            Aggregate(context, "hq", type_, id_),
            (await self._head(context, type_, id_)),
            [event],
            actor=UPSTREAM,
            causation_id=causation_id,
        )
        return result.events[0]

    async def _head(self, context: str, type_: str, id_: str) -> int:
        stored = await self.store.load(Aggregate(context, "hq", type_, id_))
        return stored[-1].seq if stored else 0

    async def report(
        self,
        *,
        child_ids: Iterable[str] = (),
        concerns: Iterable[str] = ("physical_violence",),
        urgency: str = "normal",
        agency: str = "ocpm",
        received_at: datetime | None = None,
        immediate_danger: bool = False,
    ) -> tuple[str, list[str], int]:
        report_id = new_id()
        kids = list(child_ids) or [new_id()]
        received = received_at or datetime.now(UTC) - timedelta(hours=1)
        event = ReportAccepted(
            report_id=report_id,
            children=[
                AcceptedChild(child_id=c, sex="female", age_years=12, age_band="10-14")
                for c in kids
            ],
            concerns=list(concerns),
            urgency=urgency,
            commune="cotonou",
            agency=agency,
            unit="ocpm-cotonou",
            received_at=received.isoformat(),
            accepted_at=datetime.now(UTC).isoformat(),
            immediate_danger=immediate_danger,
        )
        seq = await self.emit("intake", "report", report_id, event)
        return report_id, kids, seq

    async def staff(
        self,
        staff_id: str,
        *,
        agency: str = "ocpm",
        sector: str = "social_services",
        levels: dict[str, str] | None = None,
    ) -> int:
        seq = await self.emit(
            "referral",
            "staff",
            staff_id,
            StaffMemberRegistered(
                staff_id=staff_id,
                agency=agency,
                unit=f"{agency}-unit",
                sector=sector,
                role="case_worker",
                display_name="Staff member",
            ),
        )
        for competency, level in (levels or {}).items():
            seq = await self.emit(
                "referral",
                "staff",
                staff_id,
                CompetencyAssessed(
                    staff_id=staff_id,
                    competency=competency,
                    level=level,
                    assessor="trainer-1",
                    assessed_on="2026-01-15",
                ),
            )
        return seq

    async def agency(self, agency_id: str, *, units: Iterable[str] = ()) -> int:
        """An agency and its units in referral's directory."""
        seq = await self.emit(
            "referral",
            "agency",
            agency_id,
            AgencyRegistered(agency_id=agency_id, agency_name="Agency", type="ngo"),
        )
        for unit in units:
            seq = await self.emit(
                "referral",
                "unit",
                unit,
                shelter_unit(unit, agency_id),
            )
        return seq


@pytest.fixture
async def upstream(nc: NATS) -> Upstream:
    await ensure_streams(nc.jetstream(), "hq", contexts=("intake", "referral", "casework", "audit"))
    return Upstream(
        NatsEventStore(
            nc,
            key=SigningKey.generate(),
            source="/relais/hq/upstream/1",
            site="hq",
            writable_contexts=("intake", "referral"),
        )
    )


def settings_for(
    nats_url: str, pg_server_url: str, data_dir: Path, prefix: str, n: int
) -> Settings:
    return Settings(
        nats_url=nats_url,
        database_url=pg_server_url,
        database_prefix=prefix,
        data_dir=data_dir,
        instance=str(n),
    )


class Client:
    """An HTTP client on one casework instance, with tokens for any user."""

    def __init__(self, app: FastAPI, http: httpx.AsyncClient, issuer: LocalIssuer) -> None:
        self.app = app
        self.http = http
        self.issuer = issuer

    @property
    def runtime(self) -> Runtime:
        runtime: Runtime = self.app.state.runtime
        return runtime

    def headers(
        self,
        user: str = "worker-1",
        *,
        roles: Iterable[str] = ("case_worker",),
        agency: str = "ocpm",
        version: int | None = None,
        key: str | None = None,
        lang: str | None = None,
    ) -> dict[str, str]:
        token = self.issuer.mint(user=user, agency=agency, roles=list(roles))
        headers = {"Authorization": f"Bearer {token}"}
        if version is not None:
            headers["If-Match"] = f'"{version}"'
        if key is not None:
            headers["Idempotency-Key"] = key
        if lang is not None:
            headers["Accept-Language"] = lang
        return headers

    async def get(self, path: str, **who: Any) -> httpx.Response:
        return await self.http.get(path, headers=self.headers(**who))

    async def post(self, path: str, body: dict[str, Any], **who: Any) -> httpx.Response:
        return await self.http.post(path, json=body, headers=self.headers(**who))

    async def case(self, case_id: str, agency: str = "ocpm") -> dict[str, Any]:
        answer = await self.get(
            f"/cases/{case_id}", roles=["supervisor"], user="sup-1", agency=agency
        )
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body

    async def act(
        self, case_id: str, path: str, body: dict[str, Any], **who: Any
    ) -> dict[str, Any]:
        """A write that must succeed, at the case's current version."""
        version = (await self.case(case_id, who.get("agency", "ocpm")))["version"]
        answer = await self.post(f"/cases/{case_id}/{path}", body, version=version, **who)
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()
        return result

    async def settle(self, stream: str, seq: int) -> None:
        """Wait until every projector of ``stream`` has applied ``seq``."""
        for projector in self.runtime.projectors:
            if projector.stream == stream:
                assert await projector.wait_for(seq, 15), projector.label

    async def case_of(self, child_id: str, *, count: int = 1, timeout: float = 15) -> str:
        """Wait for the opener to open the child's case(s); the newest case's id."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            answer = await self.get(f"/cases?child_id={child_id}", roles=["auditor"], user="aud")
            items = answer.json()["items"]
            if len(items) >= count:
                return str(max(items, key=lambda i: i["opened_at"])["case_id"])
            assert asyncio.get_running_loop().time() < deadline, "no case opened"
            await asyncio.sleep(0.05)


# Processes look every 50 ms: tests see a case opened or a deadline flagged at once.
QUICK = build_spec(CaseworkConfig(policy_interval_s=0.05))


async def start(settings: Settings) -> tuple[FastAPI, httpx.AsyncClient]:
    app = create_app(QUICK, settings)
    await app.state.runtime.start()
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return app, httpx.AsyncClient(transport=transport, base_url="http://casework")


@pytest.fixture
async def launch(
    nats_url: str,
    pg_server_url: str,
    tmp_path: Path,
    upstream: Upstream,
) -> AsyncIterator[Callable[[int], Awaitable[Client]]]:
    """Start casework instance ``n``; all instances of a test share one database, as in a
    replicated deployment."""
    prefix = f"t{uuid.uuid4().hex[:10]}_"
    clients: list[Client] = []

    async def launch_one(n: int) -> Client:
        settings = settings_for(nats_url, pg_server_url, tmp_path, prefix, n)
        app, http = await start(settings)
        clients.append(Client(app, http, LocalIssuer.load(settings.keys_dir)))
        return clients[-1]

    yield launch_one
    for client in clients:
        await client.http.aclose()
        await client.runtime.stop()


@pytest.fixture
async def casework(launch: Callable[[int], Awaitable[Client]]) -> Client:
    return await launch(1)
