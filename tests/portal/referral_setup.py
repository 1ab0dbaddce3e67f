"""What the referral screens' tests need before a browser opens: the agencies and units of a
small directory near Djougou (with places, hours and whom they serve), and a case of the
referring agency at the plan stage with one action to refer, made through the services' own
HTTP APIs with the tokens of the people who would make them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.portal.system import System

EVERY_DAY = {d: ["00:00-23:59"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
DJOUGOU = "bj-donga-djougou"


@dataclass(frozen=True)
class Unit:
    unit_id: str
    name: str
    agency: str
    commune: str = DJOUGOU
    service_kinds: tuple[str, ...] = ("psychological",)
    sexes: tuple[str, ...] = ()
    min_age: int = 0
    max_age: int = 17
    hours: dict[str, list[str]] | None = None
    places: int = 0


async def agency(system: System, agency_id: str) -> dict[str, str]:
    """The agency in referral's directory; its administrator's headers."""
    admin = system.token("agency_admin", f"admin-{agency_id}", agency_id)
    await system.ok(
        "referral",
        "POST",
        "/agencies",
        admin,
        {"agency_id": agency_id, "name": agency_id.upper(), "type": "ngo"},
        status=201,
    )
    return admin


async def unit(system: System, u: Unit) -> None:
    admin = system.token("agency_admin", f"admin-{u.agency}", u.agency)
    body = {
        "agency_id": u.agency,
        "name": u.name,
        "commune": u.commune,
        "service_kinds": list(u.service_kinds),
        "opening_hours": EVERY_DAY if u.hours is None else u.hours,
        "min_age": u.min_age,
        "max_age": u.max_age,
        "sexes": list(u.sexes),
    }
    await system.ok("referral", "PUT", f"/units/{u.unit_id}", admin, body)
    if u.places:
        await system.ok(
            "referral", "PUT", f"/units/{u.unit_id}/capacity", admin, {"total": u.places}
        )


def _with_version(headers: dict[str, str], version: int) -> dict[str, str]:
    return {**headers, "If-Match": f'"{version}"'}


async def case_with_action(
    system: System,
    agency_id: str,
    worker: str,
    supervisor: str,
    *,
    service_kind: str = "psychological",
    action: str = "Soutien psychologique après les violences",
) -> dict[str, Any]:
    """A case opened directly by ``worker`` (a girl of 14 found in Djougou), assigned to them,
    moved to the plan stage, with one goal and one action: the case's answer."""
    mine = system.token("case_worker", worker, agency_id)
    sup = system.token("supervisor", supervisor, agency_id)
    opened = await system.ok(
        "casework",
        "POST",
        "/cases",
        mine,
        {
            "child": {"name": "Rafiatou", "sex": "female", "age_years": 14},
            "concerns": ["physical_violence"],
            "urgency": "high",
            "commune": DJOUGOU,
            "found_at": (datetime.now(UTC) - timedelta(hours=3)).isoformat(),
        },
        status=201,
    )
    case_id, version = opened["case_id"], opened["version"]
    await system.caught_up("casework", "REFERRAL")  # the worker is staff of the agency
    heard = {"child_views": "Elle veut parler à quelqu'un.", "needs": [], "risk_level": "high"}
    steps: list[tuple[str, dict[str, Any], dict[str, str]]] = [
        ("assignment", {"worker_id": worker, "supervisor_id": supervisor}, sup),
        ("stage", {"to": "initial_assessment"}, mine),
        ("assessments", {"kind": "initial", **heard}, mine),
        ("stage", {"to": "comprehensive_assessment"}, mine),
        ("assessments", {"kind": "comprehensive", **heard}, mine),
        ("stage", {"to": "case_plan"}, mine),
        ("plan/goals", {"text": "Elle se sent en sécurité."}, mine),
    ]
    goal_id = ""
    for path, body, who in steps:
        answer = await system.ok(
            "casework", "POST", f"/cases/{case_id}/{path}", _with_version(who, version), body
        )
        version = answer["version"]
        goal_id = answer.get("goal_id") or goal_id
    due = (datetime.now(UTC) + timedelta(days=7)).date().isoformat()
    await system.ok(
        "casework",
        "POST",
        f"/cases/{case_id}/plan/actions",
        _with_version(mine, version),
        {
            "goal_id": goal_id,
            "text": action,
            "responsible_agency": agency_id,
            "service_kind": service_kind,
            "due_on": due,
        },
    )
    return await system.ok("casework", "GET", f"/cases/{case_id}", mine)
