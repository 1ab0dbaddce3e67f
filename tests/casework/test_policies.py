"""The process manager that opens cases and the overdue policy, on real NATS and PostgreSQL,
with two instances racing."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select

from services.casework.app.processes import case_opener, missed_visits, stage_overdue
from services.casework.config import load_rules
from services.casework.read.tables import cases, pending
from shared.ids import new_id
from tests.casework.conftest import Client, Upstream

pytestmark = pytest.mark.connected

OPENER = case_opener()
OVERDUE = stage_overdue(load_rules)
VISITS = missed_visits(load_rules)
Launch = Callable[[int], Awaitable[Client]]


async def casework_events(client: Client) -> list[tuple[str, str]]:
    """(case id, event name) of every event on CASEWORK, in order."""
    assert client.runtime.store is not None
    stored = await client.runtime.store.read_raw("CASEWORK", "casework.hq.case.>")
    return [(m.subject.split(".")[3], m.subject.split(".")[4]) for m in stored]


async def test_an_accepted_report_opens_one_case_per_child(
    casework: Client, upstream: Upstream
) -> None:
    received = datetime.now(UTC) - timedelta(hours=2)
    report_id, (a, b), _ = await upstream.report(
        child_ids=["child-a", "child-b"], urgency="emergency", received_at=received
    )
    case_a, case_b = await casework.case_of(a), await casework.case_of(b)
    assert case_a != case_b
    case = await casework.case(case_a)
    assert case["stage"] == "registration" and case["status"] == "open"
    assert case["site"] == "hq"  # the site that owns it (decision 0029)
    assert case["risk_level"] == "high"  # emergency: high until assessed
    assert case["agency"] == "ocpm" and case["concerns"] == ["physical_violence"]
    assert [r["report_id"] for r in case["reports"]] == [report_id]
    due = datetime.fromisoformat(case["stage_due_at"])
    assert abs(due - (received + timedelta(hours=24))) < timedelta(seconds=1)


async def test_a_new_report_on_a_child_with_an_open_case_is_attached(
    casework: Client, upstream: Upstream
) -> None:
    first, _, _ = await upstream.report(child_ids=["child-c"], urgency="normal")
    case_id = await casework.case_of("child-c")
    second, _, seq = await upstream.report(
        child_ids=["child-c"], concerns=["neglect", "physical_violence"], urgency="high"
    )
    await casework.settle("INTAKE", seq)
    for _ in range(200):
        case = await casework.case(case_id)
        if len(case["reports"]) == 2:
            break
        await asyncio.sleep(0.05)
    assert [r["report_id"] for r in case["reports"]] == [first, second]
    assert case["concerns"] == ["physical_violence", "neglect"]
    assert case["urgency"] == "high"
    listed = await casework.get("/cases?child_id=child-c", roles=["supervisor"])
    assert listed.json()["total"] == 1


async def test_two_instances_open_each_case_exactly_once(
    launch: Launch, upstream: Upstream
) -> None:
    one, two = await launch(1), await launch(2)
    reports = [await upstream.report(child_ids=[f"kid-{i % 3}"]) for i in range(6)]
    reports.append(await upstream.report(child_ids=["kid-0", "kid-9"]))
    # Both instances also run the step by hand at the same moment, on top of their loops.
    await asyncio.gather(*(OPENER.run_once(c.runtime) for c in (one, two, one, two)))
    for kid in ("kid-0", "kid-1", "kid-2", "kid-9"):
        await one.case_of(kid)
    for _ in range(200):
        events = await casework_events(one)
        if len(events) == 8:  # 7 reports, 8 (report, child) pairs
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)  # would any late double write show up?
    events = await casework_events(two)
    names = Counter(name for _, name in events)
    assert names == {"CaseOpened": 4, "ReportAttachedToCase": 4}
    assert len({case for case, name in events if name == "CaseOpened"}) == 4
    listed = await two.get("/cases?limit=10", roles=["supervisor"])
    assert listed.json()["total"] == 4


async def test_an_overdue_stage_is_flagged_once_by_two_instances(
    launch: Launch, upstream: Upstream
) -> None:
    one, two = await launch(1), await launch(2)
    long_ago = datetime.now(UTC) - timedelta(days=10)
    _, (kid,), _ = await upstream.report(received_at=long_ago, urgency="normal")
    case_id = await one.case_of(kid)
    await asyncio.gather(*(OVERDUE.run_once(c.runtime) for c in (one, two, one, two)))
    for _ in range(200):
        if (await one.case(case_id))["overdue"]:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)
    events = [name for case, name in await casework_events(one) if case == case_id]
    assert events == ["CaseOpened", "StageOverdue"]
    overdue = await one.get("/supervision/overdue", roles=["supervisor"], user="sup-1")
    assert overdue.status_code == 200
    [item] = overdue.json()["items"]
    assert item["case_id"] == case_id and item["stage"] == "registration"
    assert item["hours_overdue"] >= 24 * 3
    assert await OVERDUE.run_once(two.runtime) == 0  # a later pass finds nothing new


async def test_a_missed_visit_is_flagged_once_by_two_instances(
    launch: Launch, upstream: Upstream
) -> None:
    one, two = await launch(1), await launch(2)
    _, (kid,), _ = await upstream.report()
    case_id = await one.case_of(kid)
    today = datetime.now(UTC).date()
    visit = {
        "visited_on": (today - timedelta(days=9)).isoformat(),
        "child_seen": True,
        "next_visit_due": (today - timedelta(days=2)).isoformat(),
    }
    await one.act(case_id, "visits", visit)
    await asyncio.gather(*(VISITS.run_once(c.runtime) for c in (one, two, one, two)))
    for _ in range(200):
        names = [name for case, name in await casework_events(one) if case == case_id]
        if "FollowUpVisitOverdue" in names:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)  # both loops kept running: would a second flag show up?
    events = [name for case, name in await casework_events(two) if case == case_id]
    assert events == ["CaseOpened", "FollowUpVisitRecorded", "FollowUpVisitOverdue"]
    assert await VISITS.run_once(two.runtime) == 0
    # The next visit, with a later date, is watched afresh.
    later = {
        "visited_on": today.isoformat(),
        "child_seen": True,
        "next_visit_due": (today + timedelta(days=7)).isoformat(),
    }
    await two.act(case_id, "visits", later)
    assert not (await two.case(case_id))["visit_overdue"]
    assert await VISITS.run_once(one.runtime, datetime.now(UTC) + timedelta(days=8)) == 1
    assert await VISITS.run_once(two.runtime, datetime.now(UTC) + timedelta(days=9)) == 0


async def test_another_sites_report_and_case_are_left_to_that_site(casework: Client) -> None:
    """At a site whose read model holds an office's accepted report and case (as sourcing puts
    them there), neither the case opener nor the sweeps act on them: the office does
    (decision 0029). Nor on this site's own report for a child whose open case the office
    keeps: only the office may attach it (decision 0029, follow-up)."""
    engine = casework.runtime.engine
    assert engine is not None
    long_ago = datetime.now(UTC) - timedelta(days=10)
    report_id, far_case, own_report = new_id(), new_id(), new_id()
    async with engine.begin() as conn:
        await conn.execute(
            insert(pending).values(
                report_id=report_id, child_id="kid-far", status="pending", seq=10**9,
                site="parakou", data={"urgency": "normal"},
            )
        )  # fmt: skip
        await conn.execute(
            insert(pending).values(
                report_id=own_report, child_id="kid-other", status="pending", seq=10**9 + 1,
                site="hq", data={"urgency": "normal"},
            )
        )  # fmt: skip
        await conn.execute(
            insert(cases).values(
                case_id=far_case, child_id="kid-other", sex="female", age_band="10-14",
                agency="ocpm", commune="parakou", concerns=["neglect"], urgency="normal",
                risk_level="medium", stage="registration", stage_due_at=long_ago,
                stage_entered_seq=1, overdue_flagged=False, status="open",
                competency_override=False, received_at=long_ago, opened_at=long_ago,
                opened_directly=False, owner_since=long_ago, visit_due_at=long_ago,
                visit_overdue_flagged=False, last_seq=1, site="parakou", detail={},
            )
        )  # fmt: skip
    assert await OPENER.pending(casework.runtime, 1000) == []
    assert await OPENER.run_once(casework.runtime) == 0
    now = datetime.now(UTC)
    assert far_case not in await OVERDUE.due(casework.runtime, now, 1000)
    assert far_case not in await VISITS.due(casework.runtime, now, 1000)
    async with engine.connect() as conn:
        status = await conn.scalar(select(pending.c.status).where(pending.c.report_id == report_id))
        opened = await conn.scalar(select(cases.c.case_id).where(cases.c.child_id == "kid-far"))
        attached = await conn.scalar(
            select(pending.c.status).where(pending.c.report_id == own_report)
        )
    assert status == "pending" and opened is None  # the office opens it; here it waits
    assert attached == "pending"  # the office attaches it to its case
