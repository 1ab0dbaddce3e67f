"""Foreign records answer as missing, on every route of every service: a person of another
agency, in any role and in all roles at once, asking for or acting on a record of the
journey gets 404 (or, in a role the permission table never lets use the route, the same 403
any record would get), never data, and nothing is written.

Generated from the routes: every route whose path names a record must be listed below, with
the body that passes validation (so the answer is the record check's, not the body's), or be
named as shared on purpose with the reason; a new route fails here until someone decides."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute

from shared.auth import Role
from tests.crossing.conftest import NOW, OCPM, POLICE, POLICE_UNIT, World
from tests.crossing.journey import CORRECTED, NAME, Journey
from tests.reporting.reports_support import DEFINITION
from tests.test_access_matrix import _principal, guarded_routes

pytestmark = [pytest.mark.system, pytest.mark.xdist_group("crossing")]

STRANGER = "elsewhere"  # an agency with no part in the journey
IC = "social_services.interaction_communication"

# Records every agency may read on purpose, and why.
SHARED = {
    ("GET", "/units/{unit_id}"): "the service directory is how any agency finds a service",
    ("GET", "/units/{unit_id}/services"): "the service directory",
    ("GET", "/hubs/{hub_id}/services"): "the service directory",
    ("GET", "/statistics/{indicator}"): "an indicator of the catalogue, no record",
    ("GET", "/statistics/reports/{definition_id}/{period}"): "published, suppressed statistics",
    ("GET", "/complaints/{complaint_id}"): "the oversight body reads every complaint but those "
    "about its own people, whoever filed it",
    ("POST", "/complaints/{complaint_id}/acknowledgement"): "the oversight body, likewise",
    ("POST", "/complaints/{complaint_id}/resolution"): "the oversight body, likewise",
    ("GET", "/audit/cases/{case_id}"): "auditors read every agency's cases, and only they",
}

DUE = (NOW + timedelta(days=30)).date().isoformat()
PAST = (NOW - timedelta(days=1)).date().isoformat()
# Per route naming a record: a body that passes validation (None: no body).
BODIES: dict[tuple[str, str], dict[str, Any] | None] = {
    ("POST", "/reports/{report_id}/screening"): {
        "decision": "not_a_concern",
        "urgency": "normal",
        "rationale": "Not for us",
    },
    ("POST", "/reports/{report_id}/amendments"): {
        "changes": {"narrative": "rewritten"},
        "reason": "A better account",
    },
    ("GET", "/reports/{report_id}"): None,
    ("GET", "/children/{child_id}"): None,
    ("POST", "/children/{child_id}/duplicates/{candidate_id}/confirm"): {},
    ("POST", "/children/{child_id}/duplicates/{candidate_id}/reject"): {},
    ("POST", "/children/{child_id}/corrections"): {
        "changes": {"alias": "Gbèmi"},
        "reason": "Known by this name",
    },
    ("PUT", "/units/{unit_id}"): {
        "agency_id": POLICE,
        "name": "Taken over",
        "commune": "bj-littoral-cotonou",
        "service_kinds": ["legal_aid"],
        "opening_hours": {"mon": ["08:00-17:00"]},
    },
    ("PUT", "/units/{unit_id}/capacity"): {"total": 1},
    ("GET", "/units/{unit_id}/holds"): None,
    ("POST", "/units/{unit_id}/holds"): {"note": "Held for us"},
    ("POST", "/units/{unit_id}/holds/{hold_id}/release"): {},
    ("POST", "/staff/{staff_id}/assessments"): {
        "competency": IC,
        "level": "meets_expectations",
        "assessor": "someone",
        "assessed_on": "2026-01-10",
    },
    ("GET", "/staff/{staff_id}"): None,
    ("POST", "/referrals/{referral_id}/accept"): {},
    ("POST", "/referrals/{referral_id}/decline"): {"reason": "No"},
    ("POST", "/referrals/{referral_id}/complete"): {"outcome": "Done"},
    ("POST", "/referrals/{referral_id}/withdraw"): {"reason": "Not needed"},
    ("GET", "/referrals/{referral_id}"): None,
    ("GET", "/cases/{case_id}"): None,
    ("GET", "/cases/{case_id}/notes"): None,
    ("POST", "/cases/{case_id}/assignment"): {"worker_id": "w-x", "supervisor_id": "s-x"},
    ("POST", "/cases/{case_id}/stage"): {"to": "implementation"},
    ("POST", "/cases/{case_id}/assessments"): {
        "kind": "initial",
        "risk_level": "low",
        "child_views": "Fine",
    },
    ("POST", "/cases/{case_id}/best-interests"): {
        "decision_kind": "other",
        "decision": "Stay",
        "options_considered": ["Stay"],
        "participants": ["me"],
        "child_views": "Fine",
    },
    ("POST", "/cases/{case_id}/plan/goals"): {"text": "Another goal"},
    ("POST", "/cases/{case_id}/plan/actions"): {
        "goal_id": "g-x",
        "text": "Another action",
        "responsible_agency": STRANGER,
        "service_kind": "medical",
        "due_on": DUE,
    },
    ("POST", "/cases/{case_id}/closure"): {"reason": "goals_met"},
    ("POST", "/cases/{case_id}/closure/decision"): {"approve": True},
    ("POST", "/cases/{case_id}/reopening"): {"reason": "Again"},
    ("POST", "/cases/{case_id}/services"): {"service_kind": "medical", "delivered_on": PAST},
    ("POST", "/cases/{case_id}/visits"): {"visited_on": PAST, "child_seen": True},
    ("POST", "/cases/{case_id}/notes"): {"sensitivity": "normal", "text": "Seen"},
    ("POST", "/cases/{case_id}/transfers"): {"to_agency": STRANGER, "reason": "Ours now"},
    ("POST", "/cases/{case_id}/site-transfer"): {"to_site": "parakou", "reason": "Ours now"},
    ("POST", "/cases/{case_id}/transfers/{transfer_id}/accept"): {},
    ("POST", "/cases/{case_id}/transfers/{transfer_id}/decline"): {"reason": "No"},
    ("POST", "/cases/{case_id}/transfers/{transfer_id}/withdrawal"): {"reason": "No"},
    ("POST", "/cases/{case_id}/child-corrections"): {
        "changes": {"alias": "Gbèmi"},
        "reason": "Known by this name",
    },
    ("POST", "/statistics/reports/{definition_id}/retirement"): {"reason": "Not ours to end"},
}


def record_routes(world: World) -> list[tuple[APIRoute, str, str, Any]]:
    """(route, method, action, permissions) of every route whose path names a record."""
    found = []
    for service in (world.intake, world.referral, world.casework, world.reporting):
        spec = service.runtime.spec
        for route, action, permissions in guarded_routes(spec):
            if "{" not in route.path:
                continue
            for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
                found.append((route, method, action, permissions))
    return found


async def ids_of(world: World, journey: Journey) -> dict[str, str]:
    case = await world.casework.ok(
        "GET", f"/cases/{journey.case_id}", world.person("auditor", OCPM)
    )
    history = await world.reporting.ok(
        "GET", f"/audit/cases/{journey.case_id}", world.person("auditor", OCPM)
    )
    [transfer_id] = history["state"][f"casework/case/{journey.case_id}"]["fields"]["transfers"]
    defined = await world.reporting.ok(
        "POST",
        "/statistics/reports",
        world.person("agency_admin", OCPM),
        DEFINITION,
        status=201,
    )
    return {
        "report_id": journey.report_id,
        "child_id": journey.later_child_id,
        "candidate_id": journey.child_id,
        "unit_id": POLICE_UNIT,
        "staff_id": f"case_worker@{POLICE}",
        "referral_id": journey.shelter_referral,
        "case_id": case["case_id"],
        "transfer_id": transfer_id,
        "hold_id": "h-nobody-knows",
        "definition_id": defined["definition_id"],
    }


def concrete(path: str, ids: dict[str, str]) -> str:
    for name, value in ids.items():
        path = path.replace("{" + name + "}", value)
    assert "{" not in path, path
    return path


async def last_positions(world: World) -> dict[str, int]:
    assert world.intake.runtime.nc is not None
    js = world.intake.runtime.nc.jetstream()
    return {s: (await js.stream_info(s)).state.last_seq for s in ("INTAKE", "REFERRAL", "CASEWORK")}


def check_missing(answer: httpx.Response, what: str) -> None:
    assert answer.status_code == 404, f"{what}: {answer.status_code} {answer.text[:300]}"
    assert set(answer.json()) == {"error"}, what
    assert NAME not in answer.text and CORRECTED not in answer.text, what


async def test_another_agency_gets_404_on_every_record_of_the_journey(
    world: World, journey: Journey
) -> None:
    routes = record_routes(world)
    unclassified = {(m, r.path) for r, m, _, _ in routes} - set(BODIES) - set(SHARED)
    assert not unclassified, f"classify these routes in this test: {sorted(unclassified)}"
    ids = await ids_of(world, journey)
    before = await last_positions(world)
    roles = [r for r in Role if r is not Role.auditor]  # auditors read every agency's records
    everything = world.issuer.mint(user="stranger", agency=STRANGER, roles=[r.value for r in roles])
    checked = 0
    for route, method, action, permissions in routes:
        if (method, route.path) in SHARED:
            continue
        body = BODIES[(method, route.path)]
        path = concrete(route.path, ids)
        service = next(
            s
            for s in (world.intake, world.referral, world.casework, world.reporting)
            if s.runtime.spec is _spec_of(world, route)
        )

        async def ask(
            token: str, s: Any = service, m: str = method, p: str = path, b: Any = body
        ) -> Any:
            headers = {"Authorization": f"Bearer {token}", "If-Match": '"1"'}
            return await s.http.request(m, p, headers=headers, json=b)

        what = f"{method} {route.path}"
        if any(permissions.allows(action, _principal(r)) for r in roles):
            check_missing(await ask(everything), f"{what} with every role")
        for role in roles:
            token = world.issuer.mint(
                user=f"stranger-{role.value}",
                agency=STRANGER,
                roles=[role.value],
            )
            answer = await ask(token)
            if permissions.allows(action, _principal(role)):
                check_missing(answer, f"{what} as {role.value}")
            else:
                # The role never uses this route, whatever the record: the same 403 for all.
                assert answer.status_code == 403, f"{what} as {role.value}: {answer.text}"
                assert answer.json()["error"]["code"] == "forbidden"
            checked += 1
    assert await last_positions(world) == before, "a refused request wrote something"
    print(f"{checked} route × role checks on another agency's records, all 404 or role-403")
    assert checked > 300


def _spec_of(world: World, route: APIRoute) -> Any:
    for service in (world.intake, world.referral, world.casework, world.reporting):
        for router in service.runtime.spec.routers:
            if route in router.routes:
                return service.runtime.spec
    raise AssertionError(route.path)


@pytest.mark.parametrize("method_path", sorted(SHARED))
def test_shared_routes_are_named_with_their_reason(method_path: tuple[str, str]) -> None:
    assert len(SHARED[method_path]) > 10
