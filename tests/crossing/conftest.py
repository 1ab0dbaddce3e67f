"""One world for the tests of a case that crosses agencies (issue 13): intake, referral,
casework and reporting running for real on one nats-server and one PostgreSQL, started once
for the package (each test makes its own reports and cases), with a directory of five
agencies:

- a 116 hotline, which registers and screens reports and holds no case itself;
- a police station with its child protection unit (judicial protection): it can own a case;
- the OCPM with a social support unit: it can own a case;
- a hospital (medical only) and an NGO shelter (transit shelter only): they deliver services
  by referral and can never own a case."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.js.errors import NotFoundError

from relais.embedded import NatsServer, free_port
from services.casework.app import policies as casework_policies
from services.casework.service import spec as casework_spec
from services.intake.service import spec as intake_spec
from services.referral.service import spec as referral_spec
from services.reporting.service import spec as reporting_spec
from shared.auth import LocalIssuer
from shared.config import Settings
from shared.service import create_app
from shared.streams import ensure_streams
from tests.conftest import TEST_CONTEXTS
from tests.journey_support import HOURS, Service, caught_up, eventually

HOTLINE, HOTLINE_UNIT = "hotline-116", "hotline-116-plateau"
POLICE, POLICE_UNIT = "police-cotonou", "police-cotonou-bpm"
OCPM, OCPM_UNIT = "ocpm", "ocpm-cotonou"
HOSPITAL, HOSPITAL_UNIT = "chu-cotonou", "chu-cotonou-pediatrie"
SHELTER, SHELTER_UNIT = "ong-abri", "ong-abri-transit"
COMMUNE = "bj-littoral-cotonou"
DIRECTORY = (
    (HOTLINE, "government", HOTLINE_UNIT, ["other"]),
    (POLICE, "police", POLICE_UNIT, ["judicial_protection", "legal_aid"]),
    (OCPM, "government", OCPM_UNIT, ["social_support", "family_tracing"]),
    (HOSPITAL, "health", HOSPITAL_UNIT, ["medical"]),
    (SHELTER, "ngo", SHELTER_UNIT, ["transit_shelter"]),
)
UNIT_OF = {agency: unit for agency, _, unit, _ in DIRECTORY}
NOW = datetime.now(UTC)


@dataclass
class World:
    intake: Service
    referral: Service
    casework: Service
    reporting: Service
    issuer: LocalIssuer
    nats_url: str

    def person(
        self, role: str, agency: str, user: str | None = None, *, in_unit: bool = True
    ) -> dict[str, str]:
        """Headers for someone of ``agency`` in ``role`` (in its unit, unless ``in_unit`` is
        False: before the unit is in the directory, a token may not claim it)."""
        unit = UNIT_OF.get(agency) if in_unit else None
        token = self.issuer.mint(
            user=user or f"{role}@{agency}", agency=agency, roles=[role], unit=unit
        )
        return {"Authorization": f"Bearer {token}"}

    async def register(
        self, name: str, *, agency: str = HOTLINE, hours_ago: int = 1
    ) -> dict[str, Any]:
        """A report of a child in danger, registered by ``agency``'s hotline operator."""
        body = {
            "channel": "hotline_116",
            "received_at": (NOW - timedelta(hours=hours_ago)).isoformat(),
            "commune": COMMUNE,
            "concerns": ["child_labour"],
            "children": [{"name": name, "sex": "female", "age_years": 11}],
            "reporter": {"name": "Rachidatou", "relation": "neighbour", "contact": "97000000"},
            "narrative": f"{name} sells water at the Dantokpa market until midnight.",
        }
        return await self.intake.ok(
            "POST", "/reports", self.person("hotline_operator", agency), body, status=201
        )

    async def screen(
        self, report_id: str, *, agency: str = HOTLINE, **routing: str
    ) -> dict[str, Any]:
        body = {
            "decision": "protection_concern",
            "urgency": "high",
            "rationale": "A child working at night",
            **routing,
        }
        return await self.intake.ok(
            "POST", f"/reports/{report_id}/screening", self.person("screener", agency), body
        )

    async def case_of(self, child_id: str, agency: str) -> dict[str, Any]:
        """The child's case, once ``agency``'s case worker sees it."""
        worker = self.person("case_worker", agency)

        async def find() -> dict[str, Any] | None:
            listed = await self.casework.ok("GET", f"/cases?child_id={child_id}", worker)
            if not listed["items"]:
                return None
            return await self.casework.ok("GET", f"/cases/{listed['items'][0]['case_id']}", worker)

        found: dict[str, Any] = await eventually(find, f"a case at {agency} for {child_id}")
        return found

    async def act(
        self,
        case_id: str,
        path: str,
        body: dict[str, Any],
        who: dict[str, str],
        status: int = 200,
    ) -> dict[str, Any]:
        """A command on a case, with the version its author last read."""
        case = await self.casework.ok("GET", f"/cases/{case_id}", self.person("auditor", OCPM))
        headers = {**who, "If-Match": f'"{case["version"]}"'}
        return await self.casework.ok("POST", f"/cases/{case_id}/{path}", headers, body, status)

    async def transfer(self, case_id: str, to: str) -> None:
        """The case's owner asks ``to`` to take it over, and ``to`` accepts."""
        owner = (await self.casework.ok("GET", f"/cases/{case_id}", self.person("auditor", OCPM)))[
            "agency"
        ]
        asked = await self.act(
            case_id,
            "transfers",
            {"to_agency": to, "to_unit": UNIT_OF[to], "reason": "Closer to the family"},
            self.person("supervisor", owner),
        )
        await self.act(
            case_id,
            f"transfers/{asked['transfer_id']}/accept",
            {},
            self.person("supervisor", to),
        )

    async def settled(self, reader: Service, writer: Service, stream: str) -> None:
        await caught_up(reader, writer, stream)


async def _fresh_streams(url: str, *, external: bool) -> None:
    """Empty streams the operator created (as ``relais up`` does): services only check them.
    On a shared external server, start from empty ones, as tests/conftest.py does."""
    nc = await nats.connect(url)
    js = nc.jetstream()
    if external:
        for context in TEST_CONTEXTS:
            try:
                await js.delete_stream(context.upper())
            except NotFoundError:
                pass
    await ensure_streams(js, "hq", contexts=TEST_CONTEXTS)
    await nc.close()


@pytest.fixture(scope="package")
async def world(
    pg_server_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[World]:
    data = tmp_path_factory.mktemp("crossing")
    server: NatsServer | None = None
    url = os.environ.get("NATS_URL")
    if not url:
        server = NatsServer(Path(data) / "nats", port=free_port()).start()
        url = server.url
    await _fresh_streams(url, external=server is None)
    settings = Settings(
        nats_url=url,
        database_url=pg_server_url,
        data_dir=data,
        database_prefix=f"t{uuid.uuid4().hex[:10]}_",
    )
    started: dict[str, Service] = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(casework_policies, "POLL_S", 0.05)
        try:
            for name, spec in (
                ("referral", referral_spec),
                ("casework", casework_spec),
                ("intake", intake_spec),
                ("reporting", reporting_spec),
            ):
                app = create_app(spec, settings)
                await app.state.runtime.start()
                started[name] = Service(app, name, LocalIssuer.load(settings.keys_dir))
            made = World(
                intake=started["intake"],
                referral=started["referral"],
                casework=started["casework"],
                reporting=started["reporting"],
                issuer=started["intake"].issuer,
                nats_url=url,
            )
            await _directory(made)
            yield made
        finally:
            for service in reversed(started.values()):
                await service.http.aclose()
                await service.runtime.stop()
            if server is not None:
                server.stop()


async def _directory(world: World) -> None:
    for agency, kind, unit, services in DIRECTORY:
        admin = world.person("agency_admin", agency, in_unit=False)
        body = {"agency_id": agency, "name": agency.upper(), "type": kind}
        await world.referral.ok("POST", "/agencies", admin, body, status=201)
        entry = {
            "agency_id": agency,
            "name": unit,
            "commune": COMMUNE,
            "service_kinds": services,
            "opening_hours": HOURS,
        }
        await world.referral.ok("PUT", f"/units/{unit}", admin, entry)
        await world.referral.ok("PUT", f"/units/{unit}/capacity", admin, {"total": 20})
    for agency, sector in ((POLICE, "security_forces"), (OCPM, "social_services")):
        for role in ("case_worker", "supervisor"):
            staff = {
                "staff_id": f"{role}@{agency}",
                "unit": UNIT_OF[agency],
                "sector": sector,
                "role": role,
                "display_name": f"{role} of {agency}",
            }
            admin = world.person("agency_admin", agency, in_unit=False)
            await world.referral.ok("POST", "/staff", admin, staff, status=201)
    # Everyone who decides by the directory has read it.
    for reader in (world.intake, world.casework):
        await caught_up(reader, world.referral, "REFERRAL")


@pytest.fixture(scope="package")
async def journey(world: World) -> Any:
    """One child's whole journey (``journey.py``), run once for the tests that read it."""
    from tests.crossing.journey import run

    return await run(world)


__all__ = ["NOW", "World", "eventually", "journey", "world"]
