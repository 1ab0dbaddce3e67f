"""A child's case is one trace, and the services' metrics say what happened without a word of
who it happened to.

Intake, casework and referral run for real on one NATS and one PostgreSQL, with an in-memory
span exporter. A hotline report is screened; casework opens the case from ``ReportAccepted``
(a reaction in another service); the case worker plans an action that asks referral for a
service; referral makes the referral from ``ReferralRequested`` (another reaction). One trace
holds the report, its screening, the case's opening and every step to the referral, each
request that acted on the case linked to it. Then every service's ``/metrics`` is read: each
family is there, and no label holds a concrete path, an id or the child's data.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from services.casework.config import CaseworkConfig
from services.casework.service import build_spec as casework_build_spec
from services.intake.service import spec as intake_spec
from services.referral.service import spec as referral_spec
from shared.auth import LocalIssuer
from shared.config import Settings
from shared.service import create_app
from tests.journey_support import Service, caught_up, eventually
from tests.test_between_services import (
    POLICE,
    POLICE_UNIT,
    SOCIAL,
    SOCIAL_UNIT,
    Agencies,
    directory,
)

pytestmark = pytest.mark.system

NAME = "Sènan Hounkpatin"
NOW = datetime.now(UTC)
FAMILIES = (
    "relais_http_request_duration_seconds",
    "relais_append_duration_seconds",
    "relais_appended_events_total",
    "relais_append_duplicates_total",
    "relais_projector_events_total",
    "relais_projector_dead_lettered_total",
    "relais_policy_firings_total",
    "relais_projector_lag_events",
    "relais_projector_checkpoint",
    "relais_projector_active",
    "relais_dead_letters",
    "relais_access_records_pending",
)


@pytest.fixture
async def traced(
    nats_url: str, pg_server_url: str, tmp_path: Path
) -> AsyncIterator[tuple[dict[str, Service], InMemorySpanExporter]]:
    casework_spec = casework_build_spec(CaseworkConfig(policy_interval_s=0.05))
    settings = Settings(
        nats_url=nats_url,
        database_url=pg_server_url,
        data_dir=tmp_path,
        database_prefix=f"t{uuid.uuid4().hex[:10]}_",
    )
    spans = InMemorySpanExporter()
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
            if len(started) == 1:  # the first start installs the process's tracer provider
                provider = trace.get_tracer_provider()
                assert isinstance(provider, TracerProvider)
                provider.add_span_processor(SimpleSpanProcessor(spans))
        yield started, spans
    finally:
        spans.shutdown()  # the processor stays on the global provider; it keeps nothing more
        for service in reversed(started.values()):
            await service.http.aclose()
            await service.runtime.stop()


async def test_one_trace_from_the_hotline_report_to_the_first_referral(
    traced: tuple[dict[str, Service], InMemorySpanExporter],
) -> None:
    services, spans = traced
    intake, referral, casework = services["intake"], services["referral"], services["casework"]
    who = Agencies(casework.issuer)
    await directory(services, who)

    # -- the hotline call and its screening (intake) ----------------------------------------
    report = {
        "channel": "hotline_116",
        "received_at": (NOW - timedelta(minutes=30)).isoformat(),
        "commune": "bj-borgou-parakou",
        "concerns": ["trafficking_labour_other"],
        "children": [{"name": NAME, "sex": "male", "age_years": 12}],
        "urgency": "high",
    }
    operator = who("hotline_operator", "op-1", POLICE)
    registered = await intake.ok("POST", "/reports", operator, report, status=201)
    report_id = registered["report_id"]
    child_id = registered["children"][0]["child_id"]
    screener = who("screener", "scr-1", POLICE, POLICE_UNIT)
    screening = {"decision": "protection_concern", "urgency": "high", "rationale": "Labour"}
    read = await intake.http.get(f"/reports/{report_id}", headers=screener)
    screener = {**screener, "If-Match": read.headers["ETag"]}
    await intake.ok("POST", f"/reports/{report_id}/screening", screener, screening)

    # -- casework opens the case by itself; the worker plans a referral ---------------------
    auditor = who("auditor", "aud-1", POLICE)

    async def opened() -> str | None:
        listed = await casework.ok("GET", f"/cases?child_id={child_id}", auditor)
        return str(listed["items"][0]["case_id"]) if listed["items"] else None

    case_id: str = await eventually(opened, "casework to open the case")
    await caught_up(referral, casework, "CASEWORK")
    await caught_up(casework, referral, "REFERRAL")

    async def act(path: str, body: dict[str, Any]) -> dict[str, Any]:
        case = await casework.ok("GET", f"/cases/{case_id}", auditor)
        headers = who("case_worker", "officer-1", POLICE, POLICE_UNIT)
        headers["If-Match"] = f'"{case["version"]}"'
        return await casework.ok("POST", f"/cases/{case_id}/{path}", headers, body)

    views = {"child_views": "He wants to go back to school."}
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
    await act("stage", {"to": "case_plan"})
    goal = await act("plan/goals", {"text": "Recover"})
    await act(
        "plan/actions",
        {
            "goal_id": goal["goal_id"],
            "text": "Psychological support",
            "responsible_agency": SOCIAL,
            "service_kind": "psychological",
            "due_on": (NOW + timedelta(days=14)).date().isoformat(),
            "referral_request": {
                "to_unit": SOCIAL_UNIT,
                "urgency": "high",
                "reason": "Support after forced labour",
                "consent": {"given": True, "given_by": "child", "given_at": NOW.isoformat()},
                "shared_fields": ["child_age_band", "child_sex", "urgency", "reason"],
            },
        },
    )

    async def referral_made() -> str | None:
        case = await casework.ok("GET", f"/cases/{case_id}", auditor)
        [action] = case["goals"][0]["actions"]
        return action["referral_id"] if action["referral_status"] == "made" else None

    referral_id = await eventually(referral_made, "referral to answer the request")
    coordinator = who("unit_coordinator", "coord-1", SOCIAL, SOCIAL_UNIT)
    await referral.ok("GET", f"/referrals/{referral_id}", coordinator)

    # -- one trace --------------------------------------------------------------------------
    finished = spans.get_finished_spans()
    [received] = [s for s in finished if s.name == "POST /reports" and _server(s)]
    case_trace = [s for s in finished if s.context.trace_id == received.context.trace_id]
    names = [s.name for s in case_trace]
    for expected in (
        "append intake.report",  # the report, then its screening
        "react casework.case-opener",
        "append casework.case",  # opening, then every step of the case
        "project CaseOpened",
        "project ReferralRequested",
        "react referral.request-answerer",
        "append referral.referral",
        "project ReferralMade",
    ):
        assert expected in names, f"{expected!r} is not in the report's trace: {sorted(set(names))}"
    assert names.count("append intake.report") == 2
    assert names.count("append casework.case") >= 9

    # The reactions are children of the events they answer, across services.
    by_id = {s.context.span_id: s for s in case_trace}
    opener = next(s for s in case_trace if s.name == "react casework.case-opener")
    assert opener.parent is not None and by_id[opener.parent.span_id].name == "append intake.report"
    answerer = next(s for s in case_trace if s.name == "react referral.request-answerer")
    assert answerer.parent is not None
    assert by_id[answerer.parent.span_id].name == "append casework.case"

    # Each request that acted on the case is its own trace, linked from the case's.
    requests = [s for s in finished if _server(s) and s.name.startswith("POST /cases/{case_id}")]
    assert len(requests) == 8
    linked = {link.context.span_id for s in case_trace for link in s.links}
    for request in [*requests, *[s for s in finished if s.name.endswith("/screening")]]:
        assert request.context.trace_id != received.context.trace_id
        assert _descendants_or_self(finished, request) & linked, f"{request.name} not linked"

    # -- metrics: every family, and nothing of the child or of a concrete path ----------------
    secrets = (NAME, "Sènan", "Hounkpatin", report_id, child_id, case_id, referral_id)
    firings: dict[str, float] = {}
    for service in (intake, casework, referral):
        answer = await service.http.get("/metrics")
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/plain")
        text = answer.text
        for family in FAMILIES:
            assert f"# TYPE {family} " in text, (service, family)
        for secret in secrets:
            assert secret not in text, (service, secret)
        for route in re.findall(r'route="([^"]*)"', text):
            assert route == "unmatched" or all(
                part.startswith("{") or re.fullmatch(r"[a-z0-9_.\-]*", part)
                for part in route.split("/")
            ), route
        assert 'route="/cases/{case_id}"' in text or service is not casework
        for policy, value in re.findall(
            r'relais_policy_firings_total\{policy="([^"]+)"\} (\S+)', text
        ):
            firings[policy] = firings.get(policy, 0) + float(value)
        lags = re.findall(r"relais_projector_lag_events\{[^}]*\} (\S+)", text)
        assert lags, service
    assert firings.get("casework.case-opener", 0) >= 1
    assert firings.get("referral.request-answerer", 0) >= 1


def _server(span: ReadableSpan) -> bool:
    return span.kind == trace.SpanKind.SERVER


def _descendants_or_self(spans: tuple[ReadableSpan, ...], root: ReadableSpan) -> set[int]:
    found = {root.context.span_id}
    grew = True
    while grew:
        grew = False
        for span in spans:
            parent = span.parent
            if parent is not None and parent.span_id in found and span.context.span_id not in found:
                found.add(span.context.span_id)
                grew = True
    return found
