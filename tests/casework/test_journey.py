"""A child's journey from an accepted intake report to closure and reopening, through real
NATS and PostgreSQL, with a referral round trip; and assignment by competency."""

from __future__ import annotations

from sqlalchemy import select

from contracts.referral import (
    Consent,
    ReferralAccepted,
    ReferralCompleted,
    ReferralMade,
)
from shared.access import access_outbox
from tests.casework.conftest import Client, Upstream

SUP = {"user": "sup-1", "roles": ["supervisor"]}
IC = "social_services.interaction_communication"


async def open_case(casework: Client, upstream: Upstream, **report: object) -> str:
    _, (child,), _ = await upstream.report(**report)  # type: ignore[arg-type]
    return await casework.case_of(child)


async def test_full_journey_with_a_referral_round_trip(
    casework: Client, upstream: Upstream
) -> None:
    case_id = await open_case(casework, upstream, concerns=["trafficking_sexual"])
    await casework.settle("REFERRAL", await upstream.staff("worker-1", levels={IC: "advanced"}))
    assigned = await casework.act(
        case_id, "assignment", {"worker_id": "worker-1", "supervisor_id": "sup-1"}
    )
    assert assigned["events"] == ["CaseAssigned"]
    await casework.act(case_id, "stage", {"to": "initial_assessment"})
    views = {"child_views": "I do not want to go back to the bar."}
    await casework.act(
        case_id,
        "assessments",
        {"kind": "initial", "needs": ["shelter", "medical"], "risk_level": "high", **views},
    )
    await casework.act(case_id, "stage", {"to": "comprehensive_assessment"})
    await casework.act(
        case_id,
        "assessments",
        {"kind": "comprehensive", "needs": ["psychological"], "risk_level": "medium", **views},
    )
    await casework.act(case_id, "stage", {"to": "best_interests"})
    await casework.act(
        case_id,
        "best-interests",
        {
            "decision_kind": "placement",
            "decision": "Transit centre, then kinship care",
            "options_considered": ["Return home", "Transit centre", "Kinship care"],
            "participants": ["worker-1", "sup-1", "aunt"],
            **views,
        },
    )
    await casework.act(case_id, "stage", {"to": "case_plan"})
    goal = await casework.act(case_id, "plan/goals", {"text": "The child is safe and housed"})
    action = {
        "goal_id": goal["goal_id"],
        "text": "Emergency shelter",
        "responsible_agency": "centre-transit-cotonou",
        "service_kind": "transit_shelter",
        "due_on": "2026-04-01",
        "referral_id": "ref-1",
    }
    added = await casework.act(case_id, "plan/actions", action)
    case = await casework.case(case_id)
    [planned] = case["goals"][0]["actions"]
    assert planned["referral_status"] == "awaiting_referral"

    # Referral makes, accepts and completes the referral: the outcome shows on the action.
    made = ReferralMade(
        referral_id="ref-1",
        case_id=case_id,
        child_id=case["child_id"],
        from_agency="ocpm",
        to_agency="centre-transit-cotonou",
        to_unit="ctc-1",
        service_kind="transit_shelter",
        urgency="high",
        reason="Needs a safe place tonight",
        consent=Consent(given=True, given_by="child"),
        shared_fields=["age_band"],
        due_at="2026-03-02T00:00:00Z",
    )
    await upstream.emit("referral", "referral", "ref-1", made)
    seq = await upstream.emit(
        "referral",
        "referral",
        "ref-1",
        ReferralAccepted(referral_id="ref-1", case_id=case_id, to_unit="ctc-1"),
    )
    await casework.settle("REFERRAL", seq)
    case = await casework.case(case_id)
    assert case["goals"][0]["actions"][0]["referral_status"] == "accepted"
    assert case["goals"][0]["actions"][0]["action_id"] == added["action_id"]
    seq = await upstream.emit(
        "referral",
        "referral",
        "ref-1",
        ReferralCompleted(referral_id="ref-1", case_id=case_id, outcome="Placed"),
    )
    await casework.settle("REFERRAL", seq)
    assert (await casework.case(case_id))["goals"][0]["actions"][0]["referral_status"] == (
        "completed"
    )

    await casework.act(case_id, "stage", {"to": "implementation"})
    await casework.act(case_id, "stage", {"to": "follow_up"})
    await casework.act(case_id, "closure", {"reason": "goals_met", "note": "Stable"})
    # The worker cannot approve their own request; a supervisor can.
    worker_try = await casework.post(
        f"/cases/{case_id}/closure/decision",
        {"approve": True},
        version=(await casework.case(case_id))["version"],
    )
    assert worker_try.status_code == 403
    await casework.act(case_id, "closure/decision", {"approve": True}, **SUP)
    case = await casework.case(case_id)
    assert (case["status"], case["stage"], case["closure_reason"]) == (
        "closed",
        "closure",
        "goals_met",
    )
    assert [a["kind"] for a in case["assessments"]] == ["initial", "comprehensive"]
    assert case["risk_level"] == "medium"
    assert case["determinations"][0]["child_views"] == views["child_views"]

    await casework.act(case_id, "reopening", {"reason": "The child ran away from care"}, **SUP)
    case = await casework.case(case_id)
    assert (case["status"], case["stage"]) == ("open", "initial_assessment")

    # Every read left an access record, with no narrative in it.
    assert casework.runtime.engine is not None
    async with casework.runtime.engine.connect() as conn:
        rows = (await conn.execute(select(access_outbox))).all()
    assert {r.record_id for r in rows} >= {case_id}
    assert {r.purpose for r in rows} >= {"case read", "case list"}


async def test_a_new_report_after_closure_opens_a_new_case(
    casework: Client, upstream: Upstream
) -> None:
    _, (child,), _ = await upstream.report()
    first = await casework.case_of(child)
    await casework.settle("REFERRAL", await upstream.staff("worker-1"))
    await casework.act(first, "assignment", {"worker_id": "worker-1", "supervisor_id": "sup-1"})
    await casework.act(first, "closure", {"reason": "moved"})
    await casework.act(first, "closure/decision", {"approve": True}, **SUP)
    await upstream.report(child_ids=[child])
    second = await casework.case_of(child, count=2)
    assert second != first
    assert (await casework.case(second))["status"] == "open"


async def test_assignment_needs_the_competency_or_a_supervisors_override(
    casework: Client, upstream: Upstream
) -> None:
    case_id = await open_case(casework, upstream, concerns=["online_sexual_exploitation"])
    await upstream.staff("novice", levels={IC: "below_expectations"})
    await casework.settle("REFERRAL", await upstream.staff("expert", levels={IC: "satisfactory"}))
    version = (await casework.case(case_id))["version"]
    body = {"worker_id": "novice", "supervisor_id": "sup-1"}

    refused = await casework.post(f"/cases/{case_id}/assignment", body, version=version)
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert error["code"] == "competency_missing" and error["field"] == "worker_id"
    assert error["missing_competencies"] == [IC]
    assert "répond aux attentes" in error["message"]
    english = await casework.post(f"/cases/{case_id}/assignment", body, version=version, lang="en")
    assert "meets expectations" in english.json()["error"]["message"]

    with_reason = {**body, "override_reason": "Only worker on duty tonight"}
    by_worker = await casework.post(f"/cases/{case_id}/assignment", with_reason, version=version)
    assert by_worker.status_code == 403
    assert by_worker.json()["error"]["code"] == "override_needs_supervisor"

    by_supervisor = await casework.post(
        f"/cases/{case_id}/assignment", with_reason, version=version, **SUP
    )
    assert by_supervisor.status_code == 200
    case = await casework.case(case_id)
    assert case["worker_id"] == "novice" and case["competency_override"] is True
    assert case["assignments"][-1]["missing_competencies"] == [IC]

    fine = await casework.act(
        case_id, "assignment", {"worker_id": "expert", "supervisor_id": "sup-1"}
    )
    assert fine["events"] == ["CaseAssigned"]
    assert (await casework.case(case_id))["competency_override"] is False

    unknown = await casework.post(
        f"/cases/{case_id}/assignment",
        {"worker_id": "stranger", "supervisor_id": "sup-1"},
        version=fine["version"],
    )
    assert unknown.status_code == 422 and unknown.json()["error"]["field"] == "worker_id"
