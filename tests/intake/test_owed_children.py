"""Every child a registered report mentions, and every child casework identified on a case it
opened directly, gets exactly one child record, whoever writes it (the request, the
child-recorder loop on one instance or another) and whenever a process dies."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import nats
import pytest

from contracts.casework import ChildIdentified, IdentifiedChild
from contracts.intake import ChildRecorded, ReportedChild, ReportRegistered
from services.intake.app.policies import child_recorder_every, record_owed_children
from services.intake.domain import iso
from shared.envelope import Actor, Aggregate
from shared.eventstore import EventStore
from shared.signing import SigningKey
from tests.intake.conftest import Intake, ago, report_body, stop

LATER = timedelta(seconds=30)  # past the grace the loop leaves to the registering request


@pytest.fixture
async def casework(nats_url: str) -> AsyncIterator[EventStore]:
    """Casework's side of the log, as its service would write it (streams made by intake)."""
    nc = await nats.connect(nats_url)
    yield EventStore(
        nc,
        key=SigningKey.generate(),
        source="/relais/hq/casework/1",
        site="hq",
        writable_contexts=("casework",),
    )
    await nc.close()


async def _child_events(intake: Intake, child_id: str) -> list[Any]:
    return await intake.runtime.store.load(Aggregate("intake", "hq", "child", child_id))


async def _applied(intake: Intake, stream: str, seq: int) -> None:
    for projector in intake.runtime.projectors:
        if projector.stream == stream:
            assert await projector.wait_for(seq, 5)


async def _identify(casework: EventStore, **details: Any) -> tuple[str, str, int]:
    case_id, child_id = str(uuid.uuid4()), str(uuid.uuid4())
    result = await casework.append(
        Aggregate("casework", "hq", "case", case_id),
        0,
        [
            ChildIdentified(
                child_id=child_id,
                agency="ocpm",
                commune="bj-littoral-cotonou",
                found_at=ago(hours=2),
                details=IdentifiedChild(**details),
            )
        ],
        actor=Actor(user="worker-1", agency="ocpm", role="case_worker"),
    )
    return case_id, child_id, result.head.seq


async def test_a_child_found_on_a_direct_case_is_recorded_once_and_matched(
    make_intake: Callable[..., Any], casework: EventStore
) -> None:
    a, b = await make_intake("a"), await make_intake("b")
    try:
        known = await a.as_("hotline_operator").post(
            "/reports",
            report_body(children=[{"name": "Sèna Houénou", "sex": "female", "age_years": 10}]),
        )
        known_id = known.json()["children"][0]["child_id"]
        case_id, child_id, seq = await _identify(
            casework, name="Sena Houenou", sex="female", age_min=9, age_max=11
        )
        await _applied(a, "CASEWORK", seq)
        # Both instances answer the same request at once: one record, one answer.
        written = await asyncio.gather(
            record_owed_children(a.runtime), record_owed_children(b.runtime)
        )
        assert sum(written) == 1
        stored = await _child_events(a, child_id)
        assert [e.event.name for e in stored] == ["ChildRecorded", "DuplicateSuggested"]
        record = stored[0].event
        assert isinstance(record, ChildRecorded)
        assert (record.case_id, record.report_id, record.agency) == (case_id, None, "ocpm")
        assert record.details.name == "Sena Houenou" and record.details.age_min == 9
        assert stored[1].event.candidate_id == known_id
        assert stored[0].envelope["actor"] == "system:intake.child-recorder"
        assert await record_owed_children(a.runtime, now=datetime.now(UTC) + LATER) == 0
        officer = a.as_("intake_officer")
        view = (await officer.get(f"/children/{child_id}")).json()
        assert view["case_id"] == case_id and view["report_id"] is None
        assert view["suggested_duplicates"][0]["candidate_id"] == known_id
        found = (await officer.get("/children", name="Sèna Houénou")).json()["items"]
        assert {c["child_id"] for c in found} == {known_id, child_id}
        assert (
            await a.as_("intake_officer", agency="cps-x").get(f"/children/{child_id}")
        ).status_code == 404
        # A child the worker could not name still gets a record; nothing to match it on.
        _, nameless, seq = await _identify(casework, sex="male", age_years=4)
        await _applied(a, "CASEWORK", seq)
        assert await record_owed_children(b.runtime) == 1
        assert [e.event.name for e in await _child_events(a, nameless)] == ["ChildRecorded"]
    finally:
        await stop(a)
        await stop(b)


async def test_a_report_whose_request_died_gets_its_children_recorded_by_the_loop(
    make_intake: Callable[..., Any],
) -> None:
    a, b = await make_intake("a"), await make_intake("b")
    try:
        earlier = await a.as_("hotline_operator").post(
            "/reports",
            report_body(
                commune="bj-plateau-pobe",
                children=[{"name": "Adébayo Ògúndélé", "sex": "male", "age_years": 12}],
            ),
        )
        earlier_id = earlier.json()["children"][0]["child_id"]
        # The process stopped right after storing the report: no child record was written.
        report_id = str(uuid.uuid4())
        children = [
            ReportedChild(
                child_id=str(uuid.uuid4()), name="Adebayo Ogundele", sex="male", age_years=13
            ),
            ReportedChild(child_id=str(uuid.uuid4()), unidentified=True, sex="female"),
        ]
        await a.runtime.commit(
            Aggregate("intake", "hq", "report", report_id),
            0,
            [
                ReportRegistered(
                    report_id=report_id,
                    agency="ocpm",
                    channel="hotline_116",
                    received_at=iso(datetime.now(UTC) - timedelta(hours=1)),
                    commune="bj-plateau-pobe",
                    concerns=["child_labour"],
                    children=children,
                    urgency="normal",
                )
            ],
            actor=Actor(user="u-1", agency="ocpm", role="hotline_operator"),
        )
        # Just registered: the loop leaves the children to the request for a moment...
        assert await record_owed_children(a.runtime) == 0
        # ...then records them, once, however many instances look.
        later = datetime.now(UTC) + LATER
        written = await asyncio.gather(
            record_owed_children(a.runtime, now=later), record_owed_children(b.runtime, now=later)
        )
        assert sum(written) == 2
        for child in children:
            stored = await _child_events(a, child.child_id)
            assert [e.event.name for e in stored][:1] == ["ChildRecorded"]
            assert sum(e.event.name == "ChildRecorded" for e in stored) == 1
            assert stored[0].event.report_id == report_id
        named = await _child_events(a, children[0].child_id)
        assert [e.event.candidate_id for e in named[1:]] == [earlier_id]
        assert await record_owed_children(b.runtime, now=later) == 0
        found = await a.as_("screener").get("/children", name="Adebayo Ogundele")
        assert {c["child_id"] for c in found.json()["items"]} == {earlier_id, children[0].child_id}
    finally:
        await stop(a)
        await stop(b)


async def test_requests_and_loops_racing_still_record_each_child_once(
    make_intake: Callable[..., Any],
) -> None:
    # No grace: the loops on both instances chase every report the requests register.
    eager = child_recorder_every(0.05, grace_s=0)
    a = await make_intake("a", background=[eager])
    b = await make_intake("b", background=[eager])
    try:
        operators = [a.as_("hotline_operator"), b.as_("intake_officer")]
        bodies = [
            report_body(
                children=[
                    {"name": f"Bio Gounou {n}", "sex": "male", "age_years": 8},
                    {"name": "Yon Sabi", "sex": "female", "age_range": {"min": 5, "max": 7}},
                ]
            )
            for n in range(6)
        ]
        answers = await asyncio.gather(
            *(operators[i % 2].post("/reports", body) for i, body in enumerate(bodies))
        )
        assert [r.status_code for r in answers] == [201] * len(bodies), answers[0].text
        for answer in answers:
            for child in answer.json()["children"]:
                stored = await _child_events(a, child["child_id"])
                assert [e.event.name for e in stored].count("ChildRecorded") == 1
                # The answer shows the suggestions the log holds, whoever wrote them.
                logged = [e.event.candidate_id for e in stored[1:]]
                assert [s["candidate_id"] for s in child["suggested_duplicates"]] == logged
        # A retried request names the same report and records nothing new.
        key = {"Idempotency-Key": "appel-77"}
        first = await operators[0].post("/reports", bodies[0], **key)
        again = await operators[0].post("/reports", bodies[0], **key)
        assert first.json() == again.json()
    finally:
        await stop(a)
        await stop(b)
