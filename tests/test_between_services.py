"""The requests services make of each other by events (decision 0006), with intake, referral
and casework all running for real on one NATS and one PostgreSQL:

- a police worker opens a case for a child found in the street: intake creates the child's
  record from casework's ``ChildIdentified``;
- a plan action for another agency's unit becomes a referral that unit accepts and completes,
  and the outcome shows on the action; a request referral cannot honour comes back refused,
  with its reason;
- a transfer moves the case to the other agency, and referral follows: the new owner may refer
  the child, the old one may not.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from services.casework.config import CaseworkConfig
from services.casework.service import build_spec as casework_build_spec
from services.intake.service import spec as intake_spec
from services.referral.service import spec as referral_spec
from shared.auth import LocalIssuer
from shared.config import Settings
from shared.service import create_app
from tests.journey_support import HOURS, Service, caught_up, eventually

pytestmark = pytest.mark.system

POLICE, POLICE_UNIT = "police-parakou", "police-parakou-bpm"
SOCIAL, SOCIAL_UNIT = "cps-zakpota", "cps-zakpota-centre"
NOW = datetime.now(UTC)


class Agencies:
    """Tokens for the people of both agencies, on any of the three services."""

    def __init__(self, issuer: LocalIssuer) -> None:
        self.issuer = issuer

    def __call__(
        self, role: str, user: str, agency: str, unit: str | None = None, **headers: str
    ) -> dict[str, str]:
        token = self.issuer.mint(user=user, agency=agency, roles=[role], unit=unit)
        return {"Authorization": f"Bearer {token}", **headers}


@pytest.fixture
async def services(
    nats_url: str, pg_server_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[dict[str, Service]]:
    casework_spec = casework_build_spec(CaseworkConfig(policy_interval_s=0.05))
    settings = Settings(
        nats_url=nats_url,
        database_url=pg_server_url,
        data_dir=tmp_path,
        database_prefix=f"t{uuid.uuid4().hex[:10]}_",
    )
    started: dict[str, Service] = {}
    try:
        for name, spec in (
            ("referral", referral_spec),
            ("casework", casework_spec),
            ("intake", intake_spec),
        ):
            app = create_app(spec, settings)
            await app.state.runtime.start()
            started[name] = Service(app, name, LocalIssuer.load(settings.keys_dir))
        yield started
    finally:
        for service in reversed(started.values()):
            await service.http.aclose()
            await service.runtime.stop()


async def directory(running: dict[str, Service], who: Agencies) -> None:
    """The two agencies, their units and a police officer in referral's directory, read by
    every service that checks a token's unit against its copy of it."""
    referral = running["referral"]
    for agency, kind, unit, commune, services in (
        (POLICE, "police", POLICE_UNIT, "bj-borgou-parakou", ["legal_aid"]),
        (SOCIAL, "government", SOCIAL_UNIT, "bj-zou-za-kpota", ["psychological", "family_tracing"]),
    ):
        admin = who("agency_admin", f"admin-{agency}", agency)
        body = {"agency_id": agency, "name": agency.upper(), "type": kind}
        await referral.ok("POST", "/agencies", admin, body, status=201)
        entry = {
            "agency_id": agency,
            "name": unit,
            "commune": commune,
            "service_kinds": services,
            "opening_hours": HOURS,
        }
        await referral.ok("PUT", f"/units/{unit}", admin, entry)
    staff = {
        "staff_id": "officer-1",
        "unit": POLICE_UNIT,
        "sector": "security_forces",
        "role": "case_worker",
        "display_name": "Brigadier Orou",
    }
    police_admin = who("agency_admin", f"admin-{POLICE}", POLICE)
    await referral.ok("POST", "/staff", police_admin, staff, status=201)
    for name, reader in running.items():
        if name != "referral":
            await caught_up(reader, referral, "REFERRAL")


async def test_requests_between_services_are_answered_under_the_askers_ids(
    services: dict[str, Service],
) -> None:
    intake, referral, casework = services["intake"], services["referral"], services["casework"]
    who = Agencies(casework.issuer)
    await directory(services, who)
    officer = who("case_worker", "officer-1", POLICE, POLICE_UNIT)
    police_auditor = who("auditor", "aud-1", POLICE)

    # -- a child found by the police: the case opens in casework, the record in intake ------
    found = {
        "child": {"name": "Bio Orou Sika", "sex": "male", "age_years": 12},
        "concerns": ["trafficking_labour_other"],
        "urgency": "high",
        "commune": "bj-borgou-parakou",
        "found_at": (NOW - timedelta(hours=2)).isoformat(),
    }
    opened = await casework.ok("POST", "/cases", officer, found, status=201)
    case_id, child_id = opened["case_id"], opened["child_id"]
    assert opened["events"] == ["CaseOpened", "ChildIdentified"]

    intake_officer = who("intake_officer", "io-1", POLICE)

    async def child_record() -> dict[str, Any] | None:
        answer = await intake.http.get(f"/children/{child_id}", headers=intake_officer)
        return answer.json() if answer.status_code == 200 else None

    record = await eventually(child_record, "intake to record the child")
    assert record["case_id"] == case_id
    assert record["details"]["name"] == "Bio Orou Sika"
    listed = await casework.ok("GET", f"/cases?child_id={child_id}", police_auditor)
    assert [c["case_id"] for c in listed["items"]] == [case_id]

    # -- a plan action for the social services' unit becomes their referral ----------------
    await caught_up(referral, casework, "CASEWORK")  # referral knows who owns the case
    await caught_up(casework, referral, "REFERRAL")  # casework knows the directory

    async def act(path: str, body: dict[str, Any], status: int = 200) -> dict[str, Any]:
        case = await casework.ok("GET", f"/cases/{case_id}", police_auditor)
        headers = who("case_worker", "officer-1", POLICE, POLICE_UNIT)
        headers["If-Match"] = f'"{case["version"]}"'
        return await casework.ok("POST", f"/cases/{case_id}/{path}", headers, body, status)

    views = {"child_views": "He wants to go home to his mother."}
    await act("assignment", {"worker_id": "officer-1", "supervisor_id": "sup-1"})
    await act("stage", {"to": "initial_assessment"})
    await act(
        "assessments",
        {"kind": "initial", "needs": ["psychological"], "risk_level": "high", **views},
    )
    await act("stage", {"to": "comprehensive_assessment"})
    await act(
        "assessments",
        {"kind": "comprehensive", "needs": ["psychological"], "risk_level": "medium", **views},
    )
    await act("stage", {"to": "best_interests"})
    await act(
        "best-interests",
        {
            "decision_kind": "placement",
            "decision": "Return home with support",
            "options_considered": ["Return home", "Kinship care"],
            "participants": ["officer-1", "mother"],
            **views,
        },
    )
    await act("stage", {"to": "case_plan"})
    goal = await act("plan/goals", {"text": "Recover from what he lived through"})
    request = {
        "to_unit": SOCIAL_UNIT,
        "urgency": "high",
        "reason": "Psychological support after months of forced labour",
        "consent": {"given": True, "given_by": "child", "given_at": NOW.isoformat()},
        "shared_fields": ["child_age_band", "child_sex", "urgency", "reason"],
    }
    action = {
        "goal_id": goal["goal_id"],
        "text": "Psychological support",
        "responsible_agency": SOCIAL,
        "service_kind": "psychological",
        "due_on": (NOW + timedelta(days=14)).date().isoformat(),
        "referral_request": request,
    }
    await act("plan/actions", action)
    refused_action = {
        **action,
        "service_kind": "transit_shelter",  # a kind the unit does not offer
        "text": "A bed for the night",
    }
    await act("plan/actions", refused_action)

    async def actions() -> dict[str, dict[str, Any]]:
        case = await casework.ok("GET", f"/cases/{case_id}", police_auditor)
        return {a["service_kind"]: a for g in case["goals"] for a in g["actions"]}

    async def statuses(*wanted: str) -> bool:
        found = await actions()
        return [found[k]["referral_status"] for k in ("psychological", "transit_shelter")] == [
            *wanted
        ]

    await eventually(lambda: statuses("made", "refused"), "referral to answer both requests")
    planned = await actions()
    referral_id = planned["psychological"]["referral_id"]
    refusal = planned["transit_shelter"]
    assert refusal["referral_status"] == "refused"
    assert refusal["referral_refusal"]["code"] == "service_not_offered"
    assert "service_kind" in refusal["referral_refusal"]["message"]

    # The receiving unit sees the referral with the shared fields only, and answers it.
    coordinator = who("unit_coordinator", "coord-1", SOCIAL, SOCIAL_UNIT)
    seen = await referral.ok("GET", f"/referrals/{referral_id}", coordinator)
    assert seen["referral_id"] == referral_id
    assert "Bio" not in str(seen)
    # Each answer states the version the unit read (the portal sends the ETag back).
    accepted = await referral.ok(
        "POST",
        f"/referrals/{referral_id}/accept",
        {**coordinator, "If-Match": f'"{seen["version"]}"'},
        {},
    )
    await referral.ok(
        "POST",
        f"/referrals/{referral_id}/complete",
        {**coordinator, "If-Match": f'"{accepted["version"]}"'},
        {"outcome": "Six sessions held; sleeping better."},
    )
    await eventually(lambda: statuses("completed", "refused"), "the outcome to come back")

    # -- the case moves to the social services; referral follows ---------------------------
    transfer = await act(
        "transfers", {"to_agency": SOCIAL, "to_unit": SOCIAL_UNIT, "reason": "Back home"}
    )
    social_supervisor = who("supervisor", "sup-2", SOCIAL, SOCIAL_UNIT)
    incoming = await casework.ok("GET", "/transfers/incoming", social_supervisor)
    [pending] = [t for t in incoming["items"] if t["case_id"] == case_id]
    accept_headers = {**social_supervisor, "If-Match": f'"{pending["version"]}"'}
    await casework.ok(
        "POST",
        f"/cases/{case_id}/transfers/{transfer['transfer_id']}/accept",
        accept_headers,
        {},
    )
    await caught_up(referral, casework, "CASEWORK")

    referral_body = {
        "case_id": case_id,
        "child_id": child_id,
        "to_unit": SOCIAL_UNIT,
        "service_kind": "family_tracing",
        "urgency": "normal",
        "reason": "Family mediation before return",
        "consent": {"given": True, "given_by": "guardian", "given_at": NOW.isoformat()},
        "shared_fields": ["child_age_band"],
        "details": {"child_age_band": "10-14"},
    }
    old_owner = await referral.http.post("/referrals", headers=officer, json=referral_body)
    assert old_owner.status_code in (403, 404), old_owner.text
    new_owner = who("case_worker", "worker-2", SOCIAL, SOCIAL_UNIT)
    await referral.ok("POST", "/referrals", new_owner, referral_body, status=201)
    gone = await casework.http.get(f"/cases/{case_id}", headers=officer)
    assert gone.status_code == 404
