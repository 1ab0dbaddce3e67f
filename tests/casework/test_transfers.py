"""Transfers between agencies, plan actions that ask referral for a referral, and the
supervisor's view of who waits for what, over HTTP on real NATS and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from contracts.referral import (
    Consent,
    ReferralAccepted,
    ReferralMade,
    ReferralRequestRefused,
)
from shared.envelope import Aggregate
from tests.casework.conftest import Client, Upstream
from tests.casework.test_api import SUP, assigned_case, new_case

pytestmark = pytest.mark.connected

UPE = "upe-rabat"
UPE_SUP = {"user": "sup-upe", "roles": ["supervisor"], "agency": UPE}
MOVE = {"to_agency": UPE, "to_unit": "upe-1", "reason": "The family moved to Rabat"}


async def incoming(casework: Client, **who: Any) -> list[dict[str, Any]]:
    answer = await casework.get("/transfers/incoming", **(who or UPE_SUP))
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


async def test_an_accepted_transfer_hands_the_case_to_the_receiving_agency(
    casework: Client, upstream: Upstream
) -> None:
    await upstream.agency(UPE, units=["upe-1"])
    case_id = await assigned_case(casework, upstream, concerns=["neglect"], urgency="high")
    await casework.act(case_id, "notes", {"sensitivity": "normal", "text": "Aunt in Rabat"})
    requested = await casework.act(case_id, "transfers", MOVE)
    transfer_id = requested["transfer_id"]
    assert requested["events"] == ["TransferRequested"]

    # The receiving agency sees the minimum needed to decide, and nothing else.
    [offer] = await incoming(casework)
    assert offer["case_id"] == case_id and offer["transfer_id"] == transfer_id
    assert set(offer) == {
        "transfer_id",
        "case_id",
        "from_agency",
        "to_agency",
        "to_unit",
        "requested_at",
        "hours_waiting",
        "urgency",
        "age_band",
        "sex",
        "concerns",
        "version",
    }
    assert (offer["from_agency"], offer["urgency"], offer["age_band"]) == ("ocpm", "high", "10-14")
    assert await incoming(casework, user="sup-1", roles=["supervisor"]) == []  # not ocpm's to take
    # Until it accepts, the case stays the sender's.
    assert (await casework.get(f"/cases/{case_id}", **UPE_SUP)).status_code == 404
    assert (await casework.get(f"/cases/{case_id}/notes", **UPE_SUP)).status_code == 404

    version = offer["version"]
    accept = f"/cases/{case_id}/transfers/{transfer_id}/accept"
    sender = await casework.post(accept, {}, version=version, lang="en", **SUP)
    assert sender.status_code == 403
    assert sender.json()["error"]["code"] == "not_receiving_agency"
    stranger = await casework.post(
        accept, {}, version=version, user="s", roles=["supervisor"], agency="ctc"
    )
    assert stranger.status_code == 404
    worker = await casework.post(accept, {}, version=version, user="w", agency=UPE)
    assert worker.status_code == 403  # a supervisor decides

    accepted = await casework.post(accept, {}, version=version, **UPE_SUP)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["events"] == ["TransferAccepted"]

    # The new agency owns it and must assign; the old one lost it entirely.
    case = await casework.case(case_id, UPE)
    assert (case["agency"], case["unit"], case["worker_id"], case["supervisor_id"]) == (
        UPE,
        "upe-1",
        None,
        None,
    )
    assert case["transfers"][0]["status"] == "accepted"
    assert case["transfers"][0]["answered_by"] == "sup-upe"
    for path in (f"/cases/{case_id}", f"/cases/{case_id}/notes"):
        assert (await casework.get(path, **SUP)).status_code == 404
    assert (await casework.get("/cases", **SUP)).json()["total"] == 0
    new_version = case["version"]
    old_owner = await casework.post(
        f"/cases/{case_id}/notes",
        {"sensitivity": "normal", "text": "x"},
        version=new_version,
        **SUP,
    )
    assert old_owner.status_code == 404
    notes = (await casework.get(f"/cases/{case_id}/notes", **UPE_SUP)).json()["items"]
    assert [n["text"] for n in notes] == ["Aunt in Rabat"]  # the file goes with the child
    again = await casework.post(accept, {}, version=new_version, lang="en", **UPE_SUP)
    assert again.status_code == 409 and again.json()["error"]["code"] == "transfer_not_pending"
    assert await incoming(casework) == []

    # Assignment now needs a worker of the new agency.
    await casework.settle("REFERRAL", await upstream.staff("upe-worker", agency=UPE))
    assigned = await casework.act(
        case_id,
        "assignment",
        {"worker_id": "upe-worker", "supervisor_id": "sup-upe"},
        **UPE_SUP,
    )
    assert assigned["events"] == ["CaseAssigned"]


async def test_refused_transfer_transitions(casework: Client, upstream: Upstream) -> None:
    await upstream.agency("ctc")
    await casework.settle("REFERRAL", await upstream.agency(UPE, units=["upe-1"]))
    case_id = await assigned_case(casework, upstream)
    version = (await casework.case(case_id))["version"]

    async def ask(body: dict[str, Any], status: int, **who: Any) -> dict[str, Any]:
        answer = await casework.post(
            f"/cases/{case_id}/transfers", body, version=version, lang="en", **who
        )
        assert answer.status_code == status, answer.text
        result: dict[str, Any] = answer.json()
        return result

    for body, field, code in (
        ({**MOVE, "to_agency": "ocpm"}, "to_agency", "same_agency"),
        ({**MOVE, "to_agency": "nowhere"}, "to_agency", "unknown_agency"),
        ({**MOVE, "to_agency": "ctc"}, "to_unit", "unit_not_in_agency"),
    ):
        error = (await ask(body, 422))["error"]
        assert (error["field"], error["code"]) == (field, code)
    missing = (await ask({"to_agency": UPE}, 422))["error"]["fields"]
    assert missing == [{"field": "reason", "reason": "This field is required.", "type": "missing"}]
    assert (await ask({}, 422))["error"]["fields"][0]["field"] == "to_agency"
    await ask(MOVE, 403, user="aud", roles=["auditor"])

    first = await ask(MOVE, 200)
    version = first["version"]
    twice = (await ask({**MOVE, "to_unit": None}, 409))["error"]
    assert twice["code"] == "transfer_pending"
    assert twice["message"] == "A transfer of this case awaits the receiving agency's answer."
    closing = await casework.post(
        f"/cases/{case_id}/closure", {"reason": "moved"}, version=version, lang="en"
    )
    assert closing.json()["error"]["code"] == "transfer_pending"

    base = f"/cases/{case_id}/transfers/{first['transfer_id']}"
    no_reason = await casework.post(f"{base}/decline", {}, version=version, **UPE_SUP)
    assert no_reason.status_code == 422
    declined = await casework.post(
        f"{base}/decline", {"reason": "No place in Rabat"}, version=version, **UPE_SUP
    )
    assert declined.status_code == 200 and declined.json()["events"] == ["TransferDeclined"]
    version = declined.json()["version"]
    late = await casework.post(f"{base}/accept", {}, version=version, lang="en", **UPE_SUP)
    assert late.status_code == 409 and late.json()["error"]["code"] == "transfer_not_pending"
    case = await casework.case(case_id)
    assert case["agency"] == "ocpm" and case["worker_id"] == "worker-1"
    assert case["transfers"][0]["decline_reason"] == "No place in Rabat"
    unknown = await casework.post(
        f"/cases/{case_id}/transfers/t-404/accept", {}, version=version, lang="en", **UPE_SUP
    )
    assert unknown.status_code == 404  # never offered to them: as if there were no case

    # Asked again, then withdrawn by the sender: the receiver can no longer take it.
    second = await casework.act(case_id, "transfers", MOVE)
    withdraw = f"/cases/{case_id}/transfers/{second['transfer_id']}/withdrawal"
    by_receiver = await casework.post(
        withdraw, {"reason": "x"}, version=second["version"], **UPE_SUP
    )
    assert by_receiver.status_code == 404
    withdrawn = await casework.act(
        case_id, f"transfers/{second['transfer_id']}/withdrawal", {"reason": "Family came back"}
    )
    assert withdrawn["events"] == ["TransferWithdrawn"]
    assert await incoming(casework) == []
    refused = await casework.post(
        f"/cases/{case_id}/transfers/{second['transfer_id']}/accept",
        {},
        version=withdrawn["version"],
        **UPE_SUP,
    )
    assert refused.status_code == 409

    # A closed case is not transferred.
    await casework.act(case_id, "closure", {"reason": "moved"})
    await casework.act(case_id, "closure/decision", {"approve": True}, **SUP)
    version = (await casework.case(case_id))["version"]
    closed = (await ask(MOVE, 409))["error"]
    assert closed["code"] == "case_closed"


async def planning_case(casework: Client, upstream: Upstream) -> tuple[str, str]:
    """A case at the plan stage with one goal: (case id, goal id)."""
    case_id = await assigned_case(casework, upstream)
    heard = {"child_views": "I want to go to school.", "needs": [], "risk_level": "medium"}
    for path, body in (
        ("stage", {"to": "initial_assessment"}),
        ("assessments", {"kind": "initial", **heard}),
        ("stage", {"to": "comprehensive_assessment"}),
        ("assessments", {"kind": "comprehensive", **heard}),
        ("stage", {"to": "case_plan"}),
    ):
        await casework.act(case_id, path, body)
    goal = await casework.act(case_id, "plan/goals", {"text": "Safe and schooled"})
    return case_id, goal["goal_id"]


def shelter(goal_id: str, **request: Any) -> dict[str, Any]:
    return {
        "goal_id": goal_id,
        "text": "Emergency shelter",
        "responsible_agency": "ctc",
        "service_kind": "transit_shelter",
        "due_on": (datetime.now(UTC) + timedelta(days=3)).date().isoformat(),
        "referral_request": {
            "to_unit": "ctc-1",
            "urgency": "high",
            "reason": "Needs a safe place tonight",
            "consent": {"given": True, "given_by": "child", "given_at": "2026-03-01T10:00:00Z"},
            "shared_fields": ["child_age_band", "urgency"],
            **request,
        },
    }


async def test_a_plan_action_for_another_agency_asks_referral_and_shows_its_answer(
    casework: Client, upstream: Upstream
) -> None:
    case_id, goal_id = await planning_case(casework, upstream)
    added = await casework.act(case_id, "plan/actions", shelter(goal_id), key="shelter-1")
    assert added["events"] == ["PlanActionAdded", "ReferralRequested"]
    referral_id = added["referral_id"]
    assert casework.runtime.store is not None
    stored = await casework.runtime.store.load(Aggregate("casework", "hq", "case", case_id))
    asked = stored[-1].event
    assert asked.name == "ReferralRequested" and stored[-2].event.name == "PlanActionAdded"
    # One command on the case: both carry the case's chain, the one its opening began.
    chain = {e.envelope["correlationid"] for e in stored}
    assert len(chain) == 1 and "causationid" not in stored[-1].envelope
    case = await casework.case(case_id)
    assert asked.model_dump() == {
        "referral_id": referral_id,
        "action_id": added["action_id"],
        "child_id": case["child_id"],
        "from_agency": "ocpm",
        "from_unit": "ocpm-cotonou",
        "to_unit": "ctc-1",
        "service_kind": "transit_shelter",
        "urgency": "high",
        "reason": "Needs a safe place tonight",
        "consent": {
            "given": True,
            "given_by": "child",
            "given_at": "2026-03-01T10:00:00Z",
            "reason_not_sought": None,
        },
        "shared_fields": ["child_age_band", "urgency"],
    }
    [action] = case["goals"][0]["actions"]
    assert (action["referral_id"], action["referral_status"], action["responsible_unit"]) == (
        referral_id,
        "requested",
        "ctc-1",
    )

    # Referral answers under the same id: made, then accepted.
    made = ReferralMade(
        referral_id=referral_id,
        case_id=case_id,
        child_id=case["child_id"],
        from_agency="ocpm",
        to_agency="ctc",
        to_unit="ctc-1",
        service_kind="transit_shelter",
        urgency="high",
        reason="Needs a safe place tonight",
        consent=Consent(given=True, given_by="child", given_at="2026-03-01T10:00:00Z"),
        shared_fields=["child_age_band", "urgency"],
        due_at="2026-03-02T00:00:00Z",
    )
    await casework.settle(
        "REFERRAL", await upstream.emit("referral", "referral", referral_id, made)
    )
    assert (await casework.case(case_id))["goals"][0]["actions"][0]["referral_status"] == "made"
    accepted = ReferralAccepted(referral_id=referral_id, case_id=case_id, to_unit="ctc-1")
    await casework.settle(
        "REFERRAL", await upstream.emit("referral", "referral", referral_id, accepted)
    )
    case = await casework.case(case_id)
    assert case["goals"][0]["actions"][0]["referral_status"] == "accepted"
    assert case["goals"][0]["actions"][0]["referral_refusal"] is None

    # A second request that referral cannot make comes back refused, with its reason.
    second = await casework.act(
        case_id, "plan/actions", shelter(goal_id, to_unit="ctc-closed"), key="shelter-2"
    )
    refusal = ReferralRequestRefused(
        referral_id=second["referral_id"],
        case_id=case_id,
        action_id=second["action_id"],
        code="unknown_unit",
        message_en="This unit is not in the directory.",
        message_fr="Cette unité ne figure pas dans l'annuaire.",
    )
    await casework.settle(
        "REFERRAL", await upstream.emit("referral", "referral", second["referral_id"], refusal)
    )
    french = await casework.get(f"/cases/{case_id}", **SUP)
    refused = french.json()["goals"][0]["actions"][1]
    assert refused["referral_status"] == "refused"
    assert refused["referral_refusal"] == {
        "code": "unknown_unit",
        "message": "Cette unité ne figure pas dans l'annuaire.",
    }
    english = await casework.get(f"/cases/{case_id}", lang="en", **SUP)
    assert english.json()["goals"][0]["actions"][1]["referral_refusal"]["message"] == (
        "This unit is not in the directory."
    )

    # The earlier way still works: an action naming a referral made through referral's API.
    named = {**shelter(goal_id), "referral_id": "ref-made-before"}
    del named["referral_request"]
    plain = await casework.act(case_id, "plan/actions", named)
    assert plain["events"] == ["PlanActionAdded"]
    assert (await casework.case(case_id))["goals"][0]["actions"][2]["referral_status"] == (
        "awaiting_referral"
    )

    version = (await casework.case(case_id))["version"]

    async def refused_action(body: dict[str, Any]) -> dict[str, Any]:
        answer = await casework.post(
            f"/cases/{case_id}/plan/actions", body, version=version, lang="en"
        )
        assert answer.status_code == 422, answer.text
        error: dict[str, Any] = answer.json()["error"]
        return error

    own = await refused_action({**shelter(goal_id), "responsible_agency": "ocpm"})
    assert (own["code"], own["field"]) == ("request_for_own_agency", "responsible_agency")
    both = await refused_action({**shelter(goal_id), "referral_id": "ref-x"})
    assert both["code"] == "referral_and_request"
    no_consent = await refused_action(shelter(goal_id, consent={"given": False}))
    assert no_consent["fields"] == [
        {
            "field": "referral_request.consent",
            "reason": "Without consent, say why it was not sought (reason_not_sought).",
            "type": "value_error",
        }
    ]
    odd = await refused_action(shelter(goal_id, shared_fields=["child_name"], urgency="now"))
    assert {f["field"] for f in odd["fields"]} == {
        "referral_request.shared_fields.0",
        "referral_request.urgency",
    }


async def test_the_supervisor_sees_which_children_wait_for_what_and_since_when(
    casework: Client, upstream: Upstream
) -> None:
    await casework.settle("REFERRAL", await upstream.agency(UPE, units=["upe-1"]))
    unassigned = await new_case(casework, upstream)
    visited = await assigned_case(casework, upstream)
    today = datetime.now(UTC).date()
    await casework.act(
        visited,
        "visits",
        {
            "visited_on": (today - timedelta(days=10)).isoformat(),
            "child_seen": True,
            "next_visit_due": (today - timedelta(days=3)).isoformat(),
        },
    )
    moving = await new_case(casework, upstream, urgency="emergency")
    transfer = await casework.act(moving, "transfers", MOVE)
    made = ReferralMade(
        referral_id="ref-w",
        case_id=visited,
        child_id="c",
        from_agency="ocpm",
        to_agency="ctc",
        to_unit="ctc-1",
        service_kind="medical",
        urgency="normal",
        reason="Check-up",
        consent=Consent(given=True, given_by="child"),
        shared_fields=[],
        due_at="2026-03-02T00:00:00Z",
    )
    await casework.settle("REFERRAL", await upstream.emit("referral", "referral", "ref-w", made))

    answer = await casework.get("/supervision/waiting", **SUP)
    assert answer.status_code == 200, answer.text
    waits = {(i["case_id"], i["waiting_for"]): i for i in answer.json()["items"]}
    assert set(waits) == {
        (unassigned, "assignment"),
        (moving, "assignment"),
        (moving, "transfer_answer"),
        (visited, "follow_up_visit"),
        (visited, "referral_answer"),
    }
    missed = waits[(visited, "follow_up_visit")]
    assert missed["ref"] == (today - timedelta(days=3)).isoformat()
    assert missed["hours_waiting"] >= 48 and missed["worker_id"] == "worker-1"
    assert waits[(moving, "transfer_answer")]["ref"] == transfer["transfer_id"]
    assert waits[(visited, "referral_answer")]["ref"] == "ref-w"
    sinces = [i["since"] for i in answer.json()["items"]]
    assert sinces == sorted(sinces)  # longest wait first
    only = await casework.get("/supervision/waiting?waiting_for=assignment&limit=1", **SUP)
    assert only.json()["total"] == 2 and len(only.json()["items"]) == 1

    # The receiving agency's supervisor sees the offer, with the minimum only.
    theirs = (await casework.get("/supervision/waiting", **UPE_SUP)).json()["items"]
    [offer] = theirs
    assert (offer["case_id"], offer["waiting_for"], offer["from_agency"]) == (
        moving,
        "incoming_transfer",
        "ocpm",
    )
    assert "child_id" not in offer and "worker_id" not in offer

    # The missed visit is also an overdue item, and counts in the caseload.
    overdue = (await casework.get("/supervision/overdue", **SUP)).json()["items"]
    [late] = [i for i in overdue if i["case_id"] == visited]
    assert late["overdue_for"] == ["follow_up_visit"] and late["visit_overdue"] is True
    assert late["hours_overdue"] >= 48
    load = (await casework.get("/supervision/caseload", **SUP)).json()["workers"]
    assert {w["worker_id"]: w["visits_overdue"] for w in load} == {None: 0, "worker-1": 1}
    assert (await casework.get("/supervision/waiting")).status_code == 403  # a worker
    bad = await casework.get("/supervision/waiting?waiting_for=coffee", **SUP)
    assert bad.status_code == 422


async def test_a_supervisor_releases_a_case_to_another_site_which_owns_it_from_then_on(
    casework: Client, upstream: Upstream
) -> None:
    """Decision 0030, at the releasing site: who may, what is refused (this site, a site it
    does not know), and then every change is the receiving site's (503 naming it while no
    instance of it answers)."""
    from sqlalchemy import select

    from services.casework.read.tables import cases
    from shared.sites import link_sites

    case_id = await assigned_case(casework, upstream)
    version = (await casework.case(case_id))["version"]
    path = f"/cases/{case_id}/site-transfer"
    body = {"to_site": "parakou", "reason": "The family moved north"}
    worker = await casework.post(path, body, version=version, lang="en")
    assert worker.status_code == 403, worker.text
    assert (await casework.get("/sites")).status_code == 403  # a worker
    assert (await casework.get("/sites", **SUP)).json() == {"site": "hq", "others": []}
    for lang, words in (("en", "Site parakou is not known here"), ("fr", "n'est pas connu")):
        unknown = await casework.post(path, body, version=version, lang=lang, **SUP)
        assert unknown.status_code == 422, unknown.text
        error = unknown.json()["error"]
        assert (error["code"], error["field"]) == ("unknown_site", "to_site")
        assert words in error["message"]
    # Once the operator links the office (relais sites), this site copies its events: known.
    runtime = casework.runtime
    assert runtime.nc is not None
    await link_sites(
        runtime.nc.jetstream(), context="casework", site="hq", remote_site="parakou",
        remote_domain="parakou",
    )  # fmt: skip
    assert (await casework.get("/sites", **SUP)).json() == {"site": "hq", "others": ["parakou"]}
    for wrong, field in (
        ({**body, "to_site": "hq"}, "to_site"),
        ({**body, "to_site": "Parakou!"}, "to_site"),
        ({"to_site": "parakou"}, "reason"),
        ({**body, "reason": "  "}, "reason"),
    ):
        answer = await casework.post(path, wrong, version=version, lang="en", **SUP)
        assert answer.status_code == 422, answer.text
        error = answer.json()["error"]
        assert field in (error.get("field"), *(f["field"] for f in error.get("fields", [])))
    stale = await casework.post(path, body, version=version - 1, lang="en", **SUP)
    assert stale.status_code == 409, stale.text

    released = await casework.post(path, body, version=version, lang="en", **SUP)
    assert released.status_code == 200, released.text
    assert released.json()["events"] == ["CaseReleasedToSite"]
    case = await casework.case(case_id)
    assert case["site"] == "hq" and case["version"] == released.json()["version"]
    assert casework.runtime.engine is not None
    async with casework.runtime.engine.connect() as conn:
        row = (await conn.execute(select(cases).where(cases.c.case_id == case_id))).one()
    assert (row.site, row.released_to) == ("hq", "parakou")  # until the office takes it over

    for lang, words in (("en", "site parakou"), ("fr", "site parakou")):
        note = await casework.post(
            f"/cases/{case_id}/notes",
            {"sensitivity": "normal", "text": "A call"},
            version=released.json()["version"],
            lang=lang,
            **SUP,
        )
        assert note.status_code == 503, note.text
        error = note.json()["error"]
        assert error["code"] == "owned_by_another_site" and words in error["message"]
    again = await casework.post(path, body, version=released.json()["version"], **SUP)
    assert again.status_code == 503 and again.json()["error"]["code"] == "owned_by_another_site"


async def test_the_take_over_is_listed_at_the_named_site_and_moves_the_cases_site(
    casework: Client, upstream: Upstream
) -> None:
    """At the receiving site (this one, ``hq``, for a case ``parakou`` released to it): the
    take-over inbox lists the case, takes nothing over while the release is not in the log,
    and the take-over, once projected, moves the case's site and clears ``released_to``."""
    from datetime import datetime

    from sqlalchemy import update

    from contracts import casework as ev
    from services.casework.app.site_transfer import site_taker
    from services.casework.read.tables import cases, projection
    from shared.ids import new_id
    from shared.recorded import Position, RecordedEvent

    case_id = await assigned_case(casework, upstream)
    runtime = casework.runtime
    assert runtime.engine is not None
    async with runtime.engine.begin() as conn:  # as if parakou owned it and released it here
        await conn.execute(
            update(cases).where(cases.c.case_id == case_id).values(site="parakou", released_to="hq")
        )
    taker = site_taker()
    assert [r.case_id for r in await taker.pending(runtime, 100)] == [case_id]
    assert await taker.run_once(runtime) == 0  # no release by parakou in the log: nothing
    async with runtime.engine.begin() as conn:  # released elsewhere: not this site's to take
        await conn.execute(
            update(cases).where(cases.c.case_id == case_id).values(released_to="natitingou")
        )
    assert await taker.pending(runtime, 100) == []
    taken = RecordedEvent(
        position=Position("CASEWORK", 10**9),
        subject=f"casework.natitingou.case.{case_id}.CaseTakenOverFromSite",
        raw=b"{}",
        envelope={"id": new_id(), "time": datetime.now(UTC).isoformat(), "actor": "system"},
        event=ev.CaseTakenOverFromSite(from_site="parakou", released_id=new_id()),
    )
    async with runtime.engine.begin() as conn:
        await projection.handlers[("casework", "CaseTakenOverFromSite")](conn, taken)
    case = await casework.case(case_id)
    assert (case["site"], case["released_to"], case["version"]) == ("natitingou", None, 10**9)
