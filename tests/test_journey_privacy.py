"""No child data in logs, traces or error bodies (issue 3), the portal's included
(issue 16).

One child's full journey runs through intake, referral and casework, started in-process on
the real NATS and PostgreSQL: a hotline call with the child's name, date of birth and a
narrative; a name search; screening; casework opening the case; assignment by competency;
assessments; a referral accepted and completed by the receiving unit; and the outcome shown
on the case plan; then the same child through the portal's screens (report typed, a date
refused, screening, the case opened). Every log record (DEBUG and up, every logger that
propagates to the root) and every finished span is then searched for the child's name, date
of birth and a phrase of the narrative, as are the error bodies of bad requests that carry
those values.
"""

from __future__ import annotations

import logging
import uuid
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
from shared.service import ServiceSpec, create_app
from tests.journey_support import (
    AGENCY,
    DOB,
    GIVEN,
    HOURS,
    IC,
    NAME,
    NARRATIVE,
    PHRASE,
    SUPERVISOR,
    UNIT,
    WORKER,
    Service,
    caught_up,
    eventually,
    leaks,
    log_texts,
    through_the_portal,
)

pytestmark = pytest.mark.system


async def test_a_childs_journey_leaves_no_child_data_in_logs_spans_or_errors(
    nats_url: str,
    pg_server_url: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    caplog.set_level(logging.DEBUG)
    casework_spec = casework_build_spec(CaseworkConfig(policy_interval_s=0.05))
    prefix = f"t{uuid.uuid4().hex[:10]}_"
    settings = Settings(
        nats_url=nats_url, database_url=pg_server_url, data_dir=tmp_path, database_prefix=prefix
    )
    spans = InMemorySpanExporter()
    started: list[Service] = []

    async def start(spec: ServiceSpec, host: str) -> Service:
        app = create_app(spec, settings)
        await app.state.runtime.start()
        service = Service(app, host, LocalIssuer.load(settings.keys_dir))
        started.append(service)
        if len(started) == 1:  # the first start installs the process's tracer provider
            provider = trace.get_tracer_provider()
            assert isinstance(provider, TracerProvider)
            provider.add_span_processor(SimpleSpanProcessor(spans))
        return service

    try:
        intake = await start(intake_spec, "intake")
        referral = await start(referral_spec, "referral")
        casework = await start(casework_spec, "casework")

        operator = intake.as_("hotline_operator", "op-1")
        officer = intake.as_("intake_officer", "io-1")
        screener = intake.as_("screener", "scr-1")
        admin = referral.as_("agency_admin", "admin-1")
        referrer = referral.as_("case_worker", WORKER)
        coordinator = referral.as_("unit_coordinator", "coord-1", unit=UNIT)
        auditor = casework.as_("auditor", "aud-1")

        # -- referral's directory: the agency, a transit centre with places, the worker ----
        await referral.ok(
            "POST",
            "/agencies",
            admin,
            {"agency_id": AGENCY, "name": "OCPM", "type": "police"},
            status=201,
        )
        unit = {
            "agency_id": AGENCY,
            "name": "Centre de transit OCPM",
            "commune": "bj-littoral-cotonou",
            "service_kinds": ["transit_shelter", "psychological"],
            "opening_hours": HOURS,
        }
        await referral.ok("PUT", f"/units/{UNIT}", admin, unit)
        await referral.ok("PUT", f"/units/{UNIT}/capacity", admin, {"total": 2})
        staff = {
            "staff_id": WORKER,
            "unit": UNIT,
            "sector": "social_services",
            "role": "case_worker",
            "display_name": "Akossiwa Dossou",
        }
        await referral.ok("POST", "/staff", admin, staff, status=201)
        assessment = {
            "competency": IC,
            "level": "meets_expectations",
            "assessor": "IBCR",
            "assessed_on": "2026-02-20",
        }
        member = await referral.ok("GET", f"/staff/{WORKER}", admin)
        assessed = {**admin, "If-Match": f'"{member["version"]}"'}
        await referral.ok("POST", f"/staff/{WORKER}/assessments", assessed, assessment, status=201)

        # -- intake: the hotline call, a name search, screening -----------------------------
        child = {"name": NAME, "sex": "female", "date_of_birth": DOB, "school_status": "enrolled"}
        report = {
            "channel": "hotline_116",
            "received_at": (datetime.now(UTC) - timedelta(minutes=20)).isoformat(),
            "commune": "bj-littoral-cotonou",
            "concerns": ["sexual_abuse", "child_labour"],
            "children": [child],
            "reporter": {"name": "Voisine", "relation": "neighbour"},
            "narrative": NARRATIVE,
            "urgency": "high",
        }
        registered = await intake.ok("POST", "/reports", operator, report, status=201)
        report_id = registered["report_id"]
        child_id = registered["children"][0]["child_id"]

        found = await intake.ok("GET", f"/children?name={NAME}", officer)
        assert [i["child_id"] for i in found["items"]] == [child_id]
        assert leaks(str(found)), "the search answers with the child's name (to the caller)"
        record = await intake.ok("GET", f"/children/{child_id}", officer)
        assert record["details"]["date_of_birth"] == DOB
        read = await intake.ok("GET", f"/reports/{report_id}", screener)
        assert PHRASE in read["document"]["narrative"]

        screening = {
            "decision": "protection_concern",
            "urgency": "high",
            "rationale": f"{GIVEN} is exposed to sexual abuse at night; {PHRASE}.",
        }
        screened = await intake.ok(
            "POST",
            f"/reports/{report_id}/screening",
            {**screener, "If-Match": f'"{read["version"]}"'},
            screening,
        )
        assert screened["accepted"] is True

        # -- casework: the case opens from ReportAccepted; assignment; assessments ----------
        async def opened() -> str | None:
            listed = await casework.ok("GET", f"/cases?child_id={child_id}", auditor)
            return str(listed["items"][0]["case_id"]) if listed["items"] else None

        case_id: str = await eventually(opened, "casework to open the case")
        await caught_up(casework, referral, "REFERRAL")  # the staff directory

        async def act(path: str, body: dict[str, Any], role: str = "case_worker") -> None:
            case = await casework.ok("GET", f"/cases/{case_id}", auditor)
            who = casework.as_(role, WORKER, **{"If-Match": f'"{case["version"]}"'})
            await casework.ok("POST", f"/cases/{case_id}/{path}", who, body)

        await act("assignment", {"worker_id": WORKER, "supervisor_id": SUPERVISOR})
        await act("stage", {"to": "initial_assessment"})
        views = {"child_views": f"{GIVEN} wants to go to school and not back to the market."}
        await act(
            "assessments",
            {"kind": "initial", "needs": ["shelter"], "risk_level": "high", **views},
        )
        await act("stage", {"to": "comprehensive_assessment"})
        await act(
            "assessments",
            {
                "kind": "comprehensive",
                "needs": ["shelter", "psychological"],
                "risk_level": "high",
                "summary": f"{NAME}, born {DOB}: {PHRASE}.",
                **views,
            },
        )
        await act("stage", {"to": "case_plan"})

        # -- referral: the worker refers the child; the unit accepts, then completes --------
        referral_body = {
            "case_id": case_id,
            "child_id": child_id,
            "to_unit": UNIT,
            "service_kind": "transit_shelter",
            "urgency": "high",
            "reason": f"{GIVEN} needs a safe bed away from the market tonight.",
            "consent": {
                "given": True,
                "given_by": "guardian",
                "given_at": datetime.now(UTC).isoformat(),
            },
            "shared_fields": ["child_age_band", "child_sex", "urgency", "reason"],
            "details": {"child_age_band": "10-14", "child_sex": "female"},
        }
        made = await referral.ok("POST", "/referrals", referrer, referral_body, status=201)
        referral_id = made["referral_id"]

        case = await casework.ok("GET", f"/cases/{case_id}", auditor)
        who = casework.as_("case_worker", WORKER, **{"If-Match": f'"{case["version"]}"'})
        goal = await casework.ok(
            "POST", f"/cases/{case_id}/plan/goals", who, {"text": f"{GIVEN} is safe and housed"}
        )
        action = {
            "goal_id": goal["goal_id"],
            "text": "Emergency shelter at the transit centre",
            "responsible_agency": AGENCY,
            "responsible_unit": UNIT,
            "service_kind": "transit_shelter",
            "due_on": (datetime.now(UTC) + timedelta(days=7)).date().isoformat(),
            "referral_id": referral_id,
        }
        await act("plan/actions", action)

        shown = await referral.ok("GET", f"/referrals/{referral_id}", coordinator)
        accepted = await referral.ok(
            "POST",
            f"/referrals/{referral_id}/accept",
            {**coordinator, "If-Match": f'"{shown["version"]}"'},
            {},
        )
        outcome = {"outcome": f"{GIVEN} placed at the transit centre; school contacted."}
        completed = await referral.ok(
            "POST",
            f"/referrals/{referral_id}/complete",
            {**coordinator, "If-Match": f'"{accepted["version"]}"'},
            outcome,
        )
        assert completed["status"] == "completed"

        async def outcome_shown() -> bool:
            case = await casework.ok("GET", f"/cases/{case_id}", auditor)
            [planned] = case["goals"][0]["actions"]
            return bool(planned["referral_status"] == "completed")

        await eventually(outcome_shown, "casework to show the referral's outcome")
        case = await casework.ok("GET", f"/cases/{case_id}", auditor)
        assert (case["child_id"], case["worker_id"], case["stage"]) == (
            child_id,
            WORKER,
            "case_plan",
        )
        assert case["age_band"] == "10-14"

        # -- bad requests carrying the child's data: the errors must not repeat it ----------
        bad_child = {**child, "age_years": 12}  # a date of birth and an age: one too many
        wrong_date = {**child, "date_of_birth": "17/04/2013"}
        bad_requests: list[tuple[Service, str, str, dict[str, str], Any, int]] = [
            (intake, "POST", "/reports", operator, {**report, "children": [bad_child]}, 422),
            (intake, "POST", "/reports", operator, {**report, "children": [wrong_date]}, 422),
            (intake, "POST", "/reports", operator, {**report, "concerns": []}, 422),
            (intake, "POST", "/reports", {}, report, 401),
            (intake, "GET", f"/children?name={NAME}&page_size=1000", officer, None, 422),
            (intake, "GET", f"/children?name={NAME}", {}, None, 401),
            (intake, "GET", f"/children?name={NAME}", {"Authorization": "Bearer x.y.z"}, None, 401),
            (
                intake,
                "POST",
                f"/reports/{report_id}/amendments",
                operator,
                {"changes": {"narrative": NARRATIVE, "commune": "Dantokpa"}, "reason": NAME},
                422,
            ),
            (
                referral,
                "POST",
                "/referrals",
                referrer,
                {**referral_body, "shared_fields": ["child_name"], "details": {}},
                422,
            ),
            (
                referral,
                "POST",
                "/referrals",
                referrer,
                {**referral_body, "details": {"contact": f"{NAME}, born {DOB}"}},
                422,
            ),
            (
                casework,
                "POST",
                f"/cases/{case_id}/assessments",
                casework.as_("case_worker", WORKER, **{"If-Match": f'"{case["version"]}"'}),
                {"kind": "initial", "risk_level": "extreme", "summary": NARRATIVE, **views},
                422,
            ),
            (
                casework,
                "POST",
                f"/cases/{case_id}/plan/goals",
                casework.as_("case_worker", WORKER),  # no If-Match
                {"text": f"{NAME} born {DOB}"},
                428,
            ),
        ]
        error_bodies = []
        for service, method, url, headers, body, status in bad_requests:
            answer = await service.http.request(method, url, headers=headers, json=body)
            assert answer.status_code == status, f"{method} {url}: {answer.text}"
            error_bodies.append((f"{method} {url} -> {answer.status_code}", answer.text))

        await through_the_portal(
            settings, {"intake": intake, "referral": referral, "casework": casework}
        )
    finally:
        for service in reversed(started):
            await service.http.aclose()
            await service.runtime.stop()
        spans.shutdown()  # the processor stays on the global provider; it stores no more

    # -- (a) logs ---------------------------------------------------------------------------
    texts = log_texts(caplog.records)
    assert any("intake started as" in t for t in texts), "logs should be captured"
    assert any("casework started as" in t for t in texts), "logs should be captured"
    assert any("portal started as" in t for t in texts), "the portal's logs are checked too"
    assert any("report saved through the portal" in t for t in texts)
    leaked_logs = [(t, leaks(t)) for t in texts if leaks(t)]
    assert not leaked_logs, leaked_logs

    # -- (b) spans --------------------------------------------------------------------------
    finished = spans.get_finished_spans()
    names = {span.name for span in finished}
    for expected in (
        "append intake.report",
        "project ReportAccepted",
        "append casework.case",
        "append referral.referral",
        "project ReferralCompleted",
        "GET /children",
        "POST /reports/new",
        "GET /cases/{case_id}",
    ):
        assert expected in names, f"no span {expected!r} in {sorted(names)}"
    leaked_spans = [(s.name, leaks(s.to_json())) for s in finished if leaks(s.to_json())]
    assert not leaked_spans, leaked_spans

    # -- (c) error bodies ---------------------------------------------------------------------
    assert len(error_bodies) == len(bad_requests)
    leaked_errors = [(what, leaks(text), text) for what, text in error_bodies if leaks(text)]
    assert not leaked_errors, leaked_errors
