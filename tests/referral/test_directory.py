"""The directory over HTTP: agencies, units, capacity, staff, assessments, trainings, search,
and the bad inputs each must refuse with the field and a reason in French and English."""

from __future__ import annotations

from typing import Any

import pytest

from tests.referral.conftest import HOURS, Service

pytestmark = pytest.mark.connected

UNIT = {
    "agency_id": "ocpm",
    "name": "Brigade des mineurs",
    "commune": "bj-borgou-parakou",
    "service_kinds": ["legal_aid"],
    "opening_hours": HOURS,
}


def fields(answer: Any) -> dict[str, str]:
    body = answer.json()["error"]
    if "fields" in body:
        return {f["field"]: f["reason"] for f in body["fields"]}
    return {body["field"]: body["message"]}


async def test_unit_entry_shows_capacity_and_expected_services(svc: Service) -> None:
    answer = await svc.client.get("/units/transit", headers=svc.headers("case_worker"))
    assert answer.status_code == 200
    unit = answer.json()
    capacity = unit["capacity"]
    assert capacity["version"] > 0  # the capacity's own version, for If-Match
    assert capacity | {"version": 0} == {
        "total": 2,
        "occupied_outside": 0,
        "reserved": 0,
        "held": 0,
        "available": 2,
        "version": 0,
    }
    expected = unit["expected_services"]
    assert expected | {"kinds": []} == {
        "expected": 3,
        "offered": 2,
        "missing": ["medical"],
        "kinds": [],
    }
    # The list itself, so a revision of the unit can send it back unchanged.
    assert len(expected["kinds"]) == 3 and "medical" in expected["kinds"]
    listed = await svc.client.get(
        "/units", params={"service_kind": "psychological"}, headers=svc.headers("auditor")
    )
    assert [u["unit_id"] for u in listed.json()["items"]] == ["transit", "djougou"]  # by name
    assert listed.json()["total"] == 2
    agencies = await svc.client.get("/agencies", headers=svc.headers("case_worker"))
    assert agencies.json()["total"] == 2


async def test_the_coordinator_keeps_their_own_unit_up_to_date_only(svc: Service) -> None:
    mine = svc.headers("unit_coordinator", agency="ocpm", unit="transit")
    answer = await svc.client.put(
        "/units/transit/capacity", json={"total": 4, "occupied_outside": 3}, headers=mine
    )
    assert answer.status_code == 200 and answer.json()["available"] == 1
    theirs = await svc.client.put("/units/djougou/capacity", json={"total": 9}, headers=mine)
    assert theirs.status_code == 404  # another's unit answers as one not theirs to change
    worker = await svc.client.put(
        "/units/transit/capacity", json={"total": 9}, headers=svc.headers("case_worker")
    )
    assert worker.status_code == 403 and worker.json()["error"]["code"] == "forbidden"


async def test_capacity_below_zero_is_refused_in_both_languages(svc: Service) -> None:
    admin = svc.headers("agency_admin")
    answer = await svc.client.put("/units/transit/capacity", json={"total": -1}, headers=admin)
    assert answer.status_code == 422
    assert fields(answer) == {"total": "Doit être supérieur ou égal à 0."}
    english = await svc.client.put(
        "/units/transit/capacity",
        json={"total": 1, "occupied_outside": -2},
        headers=svc.headers("agency_admin", lang="en"),
    )
    assert fields(english) == {"occupied_outside": "Must be at least 0."}
    missing = await svc.client.put("/units/nowhere/capacity", json={"total": 1}, headers=admin)
    assert missing.status_code == 404


async def test_bad_unit_entries_name_the_field(svc: Service) -> None:
    admin = svc.headers("agency_admin", lang="en")
    cases = {
        "service_kinds": {"service_kinds": ["massage"]},
        "commune": {"commune": "bj-nowhere"},
        "opening_hours": {"opening_hours": {"mon": ["8h-17h"]}},
        "sexes": {"sexes": ["robot"]},
        "max_age": {"max_age": 18},
        "color": {"color": "blue"},
    }
    for field, change in cases.items():
        answer = await svc.client.put("/units/brigade", json={**UNIT, **change}, headers=admin)
        assert answer.status_code == 422, field
        reasons = fields(answer)
        assert any(f.startswith(field) for f in reasons), (field, reasons)
    day = await svc.client.put(
        "/units/brigade", json={**UNIT, "opening_hours": {"lundi": ["08:00-12:00"]}}, headers=admin
    )
    assert "Unknown day" in fields(day)["opening_hours"]
    french = await svc.client.put(
        "/units/brigade",
        json={**UNIT, "opening_hours": {"mon": ["17:00-17:00"]}},
        headers=svc.headers("agency_admin"),
    )
    assert "plage horaire" in fields(french)["opening_hours"]
    overnight = await svc.client.put(
        "/units/veille",
        json={**UNIT, "opening_hours": {"fri": ["20:00-08:00"], "sat": ["00:00-24:00"]}},
        headers=admin,
    )
    assert overnight.status_code == 200, overnight.text
    ages = await svc.client.put(
        "/units/brigade", json={**UNIT, "min_age": 15, "max_age": 12}, headers=admin
    )
    assert ages.status_code == 422
    unknown_agency = await svc.client.put(
        "/units/brigade", json={**UNIT, "agency_id": "ghost"}, headers=admin
    )
    # Not the admin's agency (and unknown anyway): the field and the reason.
    assert unknown_agency.status_code == 422
    assert unknown_agency.json()["error"]["field"] == "agency_id"
    ghost = svc.headers("agency_admin", agency="ghost", lang="en")
    answer = await svc.client.put(
        "/units/brigade", json={**UNIT, "agency_id": "ghost"}, headers=ghost
    )
    assert answer.status_code == 422 and answer.json()["error"]["field"] == "agency_id"
    bad_id = await svc.client.put("/units/bad.id", json=UNIT, headers=admin)
    assert bad_id.status_code == 422


async def test_agency_types_are_checked(svc: Service) -> None:
    answer = await svc.client.post(
        "/agencies",
        json={"agency_id": "x", "name": "X", "type": "church"},
        headers=svc.headers("agency_admin", agency="x", lang="en"),
    )
    assert answer.status_code == 422 and "expected one of" in fields(answer)["type"]


async def test_staff_assessments_and_trainings(svc: Service) -> None:
    admin = svc.headers("agency_admin")
    staff = {
        "staff_id": "a.dossou@ocpm.bj",
        "unit": "transit",
        "sector": "social_services",
        "role": "psychologist",
        "display_name": "A. Dossou",
    }
    assert (await svc.client.post("/staff", json=staff, headers=admin)).status_code == 201
    assessment = {
        "competency": "social_services.interaction_communication",
        "level": "meets_expectations",
        "assessor": "IBCR",
        "assessed_on": "2026-02-20",
    }
    answer = await svc.client.post(
        "/staff/a.dossou@ocpm.bj/assessments", json=assessment, headers=admin
    )
    assert answer.status_code == 201, answer.text
    read = await svc.client.get("/staff/a.dossou@ocpm.bj", headers=svc.headers("supervisor"))
    assert read.json()["assessments"][0]["level"] == "meets_expectations"
    training = {
        "held_on": "2026-02-10",
        "topic": "Entretien avec l'enfant victime",
        "trainer": "IBCR",
        "participants": ["a.dossou@ocpm.bj"],
        "sector": "social_services",
    }
    made = await svc.client.post("/trainings", json=training, headers=admin)
    assert made.status_code == 201
    listed = await svc.client.get("/trainings", headers=admin)
    assert listed.json()["total"] == 1
    members = (await svc.client.get("/staff", params={"unit": "transit"}, headers=admin)).json()
    assert [(m["staff_id"], m["assessed"]) for m in members["items"]] == [("a.dossou@ocpm.bj", 1)]
    assert members["items"][0]["version"] > 0
    elsewhere = svc.headers("agency_admin", agency="upe")
    assert (await svc.client.get("/staff", headers=elsewhere)).json()["total"] == 0


async def test_bad_staff_inputs(svc: Service) -> None:
    admin = svc.headers("agency_admin", lang="en")
    staff = {
        "staff_id": "s1",
        "unit": "transit",
        "sector": "magic",
        "role": "r",
        "display_name": "S",
    }
    answer = await svc.client.post("/staff", json=staff, headers=admin)
    assert answer.status_code == 422 and "Unknown sector" in fields(answer)["sector"]
    answer = await svc.client.post(
        "/staff", json={**staff, "sector": "justice", "unit": "ghost"}, headers=admin
    )
    assert answer.status_code == 422 and answer.json()["error"]["code"] == "unknown_unit"
    other = await svc.client.post(
        "/staff", json={**staff, "sector": "justice", "unit": "djougou"}, headers=admin
    )
    assert other.status_code == 422 and other.json()["error"]["field"] == "unit"
    await svc.client.post("/staff", json={**staff, "sector": "justice"}, headers=admin)
    bad = {
        "competency": "justice.flying",
        "level": "expert",
        "assessor": "x",
        "assessed_on": "2026-13-01",
    }
    answer = await svc.client.post("/staff/s1/assessments", json=bad, headers=admin)
    assert set(fields(answer)) == {"competency", "level", "assessed_on"}
    nobody = await svc.client.post(
        "/trainings",
        json={"held_on": "2026-02-10", "topic": "t", "trainer": "t", "participants": ["ghost"]},
        headers=admin,
    )
    assert nobody.status_code == 422 and nobody.json()["error"]["field"] == "participants"
    stats = await svc.client.get("/staff/s1", headers=svc.headers("statistician"))
    assert stats.status_code == 403


async def test_search_for_a_14_year_old_girl_near_djougou_today(svc: Service) -> None:
    params = {
        "service_kind": "psychological",
        "age": 14,
        "sex": "female",
        "near": "bj-donga-djougou",
    }
    answer = await svc.client.get("/search", params=params, headers=svc.headers("case_worker"))
    assert answer.status_code == 200
    items = answer.json()["items"]
    assert [i["unit_id"] for i in items] == ["djougou", "transit"]
    assert items[0]["same_commune"] and items[0]["available"] == 1
    # Sunday: both closed.
    sunday = await svc.client.get(
        "/search",
        params={**params, "on": "2026-03-08T10:00:00Z"},
        headers=svc.headers("case_worker"),
    )
    assert sunday.json()["items"] == []
    boy = await svc.client.get(
        "/search", params={**params, "sex": "male"}, headers=svc.headers("case_worker")
    )
    assert [i["unit_id"] for i in boy.json()["items"]] == ["transit"]


async def test_search_refuses_unknown_codes_and_malformed_times(svc: Service) -> None:
    h = svc.headers("case_worker", lang="en")
    for params, field in (
        ({"service_kind": "massage"}, "service_kind"),
        ({"service_kind": "medical", "near": "bj-nowhere"}, "near"),
        ({"service_kind": "medical", "sex": "robot"}, "sex"),
        ({"service_kind": "medical", "on": "tomorrow-ish"}, "on"),
        ({"service_kind": "medical", "at": "tonight"}, "at"),
        ({"service_kind": "medical", "at": "2026-03-02T25:00:00Z"}, "at"),
        ({"service_kind": "medical", "age": 30}, "age"),
    ):
        answer = await svc.client.get("/search", params=params, headers=h)
        assert answer.status_code == 422, params
        assert field in fields(answer), (params, answer.json())
    french = await svc.client.get(
        "/search", params={"service_kind": "medical", "at": "soon"}, headers=svc.headers("screener")
    )
    assert "date et heure" in fields(french)["at"]


async def test_every_route_requires_a_token(svc: Service) -> None:
    for method, path in (
        ("GET", "/units"),
        ("GET", "/search?service_kind=medical"),
        ("POST", "/referrals"),
        ("GET", "/referrals"),
        ("PUT", "/units/transit/capacity"),
    ):
        answer = await svc.client.request(method, path, json={})
        assert answer.status_code == 401, path


NIGHT = {d: ["20:00-08:00"] for d in ("sun", "mon", "tue", "wed", "thu", "fri", "sat")}


async def test_search_reads_opening_hours_in_the_countrys_time(svc: Service) -> None:
    admin = svc.headers("agency_admin")
    night = {
        **UNIT,
        "name": "Veille de nuit",
        "commune": "bj-littoral-cotonou",
        "service_kinds": ["psychological"],
        "opening_hours": NIGHT,
    }
    assert (await svc.client.put("/units/nuit", json=night, headers=admin)).status_code == 200
    h = svc.headers("case_worker")
    near = {"service_kind": "psychological", "near": "bj-donga-djougou"}

    async def search(**params: str) -> list[tuple[str, bool | None]]:
        answer = await svc.client.get("/search", params={**near, **params}, headers=h)
        assert answer.status_code == 200, answer.text
        return [(i["unit_id"], i["open_now"]) for i in answer.json()["items"]]

    # 07:30 UTC is 08:30 in Porto-Novo: the day units have opened, the night one has closed.
    assert await search(at="2026-03-02T07:30:00Z") == [
        ("djougou", True),
        ("transit", True),
        ("nuit", False),
    ]
    # 21:00 UTC is 22:00 there; the same moment given as local time without an offset.
    for at in ("2026-03-02T21:00:00Z", "2026-03-02T22:00:00", "2026-03-02T22:00:00+01:00"):
        assert await search(at=at) == [("nuit", True), ("djougou", False), ("transit", False)]
    # Saturday 06:00: only Friday night's watch is on, and only it opens that day.
    assert await search(at="2026-03-07T06:00:00+01:00") == [("nuit", True)]
    # Sunday 23:30 UTC is already Monday in Porto-Novo: the weekday units open that day.
    monday = await svc.client.get(
        "/search", params={**near, "on": "2026-03-08T23:30:00Z"}, headers=h
    )
    assert monday.json()["day"] == "2026-03-09"
    assert {i["unit_id"] for i in monday.json()["items"]} == {"djougou", "transit", "nuit"}
    assert {i["open_now"] for i in monday.json()["items"]} == {None}  # no time asked about
    # No time given: now, by the service's clock (Monday 10:00 in Porto-Novo).
    now = await svc.client.get("/search", params=near, headers=h)
    assert now.json()["at"] == "2026-03-02T10:00:00+01:00"
    assert now.json()["items"][0]["unit_id"] == "djougou"


HUB_UNITS = {
    "hub": {
        "name": "Pôle régional de Parakou",
        "service_kinds": ["legal_aid"],
        "expected_services": ["legal_aid", "psychological", "medical", "transit_shelter"],
    },
    "m-care": {"name": "Centre de soins", "service_kinds": ["psychological", "medical"]},
    "m-shelter": {"name": "Abri", "service_kinds": ["transit_shelter", "legal_aid"]},
}


async def test_services_offered_against_expected_per_hub(svc: Service) -> None:
    admin = svc.headers("agency_admin")
    for unit_id, extra in HUB_UNITS.items():
        hub = {} if unit_id == "hub" else {"hub_id": "hub"}
        answer = await svc.client.put(
            f"/units/{unit_id}", json={**UNIT, **extra, **hub}, headers=admin
        )
        assert answer.status_code == 200, answer.text
    assert (await svc.client.get("/units/m-care", headers=admin)).json()["hub_id"] == "hub"
    capacity = {"m-care": {"total": 1}, "m-shelter": {"total": 0}}  # the hub counts no places
    for unit_id, body in capacity.items():
        await svc.client.put(f"/units/{unit_id}/capacity", json=body, headers=admin)

    async def hub() -> dict[str, Any]:
        answer = await svc.client.get("/hubs/hub/services", headers=svc.headers("statistician"))
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()
        return result

    first = await hub()
    assert {k: first[k] for k in ("expected", "offered", "missing", "label_en", "label_fr")} == {
        "expected": 4,
        "offered": 3,
        "missing": ["transit_shelter"],
        "label_en": "3 of 4 services available",
        "label_fr": "3 services sur 4 disponibles",
    }
    assert {u["unit_id"]: u["takes_children"] for u in first["units"]} == {
        "hub": True,
        "m-care": True,
        "m-shelter": False,
    }
    await svc.client.put("/units/m-shelter/capacity", json={"total": 2}, headers=admin)
    await svc.client.put(
        "/units/m-care/capacity", json={"total": 1, "occupied_outside": 1}, headers=admin
    )
    second = await hub()
    assert (second["offered_services"], second["missing"]) == (
        ["legal_aid", "transit_shelter"],
        ["psychological", "medical"],
    )
    one = await svc.client.get("/units/transit/services", headers=svc.headers("hotline_operator"))
    assert one.status_code == 200
    assert (one.json()["expected"], one.json()["offered"], one.json()["missing"]) == (
        3,
        2,
        ["medical"],
    )
    assert one.json()["label_fr"] == "2 services sur 3 disponibles"
    alone = await svc.client.get("/hubs/cpu/services", headers=admin)
    assert alone.json()["label_en"] == "0 of 0 services available"


async def test_hubs_are_one_level_deep_so_no_chain_or_cycle_can_form(svc: Service) -> None:
    admin = svc.headers("agency_admin", lang="en")
    for unit_id, hub in (("hub", None), ("member", "hub"), ("other", None)):
        body = {**UNIT, **({"hub_id": hub} if hub else {})}
        answer = await svc.client.put(f"/units/{unit_id}", json=body, headers=admin)
        assert answer.status_code == 200, answer.text
    refusals = (
        ("other", "member", "hub_is_member"),  # a hub inside a hub
        ("hub", "other", "unit_is_hub"),  # a hub joining another hub
        ("hub", "member", "hub_is_member"),  # hub -> member -> hub: a cycle
    )
    for unit_id, hub_id, code in refusals:
        answer = await svc.client.put(
            f"/units/{unit_id}", json={**UNIT, "hub_id": hub_id}, headers=admin
        )
        assert answer.status_code == 422, (unit_id, hub_id)
        error = answer.json()["error"]
        assert (error["code"], error["field"]) == (code, "hub_id")
    french = await svc.client.put(
        "/units/hub", json={**UNIT, "hub_id": "other"}, headers=svc.headers("agency_admin")
    )
    assert french.json()["error"]["message"].startswith("Cette unité est le pôle")
    # Describing a member again under the same hub is no change of structure.
    again = await svc.client.put("/units/member", json={**UNIT, "hub_id": "hub"}, headers=admin)
    assert again.status_code == 200
    assert (await svc.client.get("/units/hub", headers=admin)).json()["hub_id"] is None


async def test_hubs_must_be_known_units_other_than_the_unit_itself(svc: Service) -> None:
    admin = svc.headers("agency_admin", lang="en")
    for hub_id, code in (("ghost", "unknown_hub"), ("brigade", "hub_is_self")):
        answer = await svc.client.put(
            "/units/brigade", json={**UNIT, "hub_id": hub_id}, headers=admin
        )
        assert answer.status_code == 422, hub_id
        error = answer.json()["error"]
        assert (error["code"], error["field"]) == (code, "hub_id")
    french = await svc.client.put(
        "/units/brigade", json={**UNIT, "hub_id": "ghost"}, headers=svc.headers("agency_admin")
    )
    assert french.json()["error"]["message"].startswith("Pôle inconnu")
    malformed = await svc.client.put(
        "/units/brigade", json={**UNIT, "hub_id": "a.b"}, headers=admin
    )
    assert malformed.status_code == 422 and "hub_id" in fields(malformed)
    for path, en, fr in (
        ("/hubs/ghost/services", "No such hub.", "Pôle introuvable."),
        ("/units/ghost/services", "No such unit.", "Unité introuvable."),
    ):
        english = await svc.client.get(path, headers=admin)
        assert english.status_code == 404 and english.json()["error"]["message"] == en
        assert (await svc.client.get(path, headers=svc.headers("auditor"))).json()["error"][
            "message"
        ] == fr
    nobody = await svc.client.get("/hubs/transit/services")
    assert nobody.status_code == 401
