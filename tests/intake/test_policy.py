"""The overdue policies fire once per report and deadline, even with two instances running
them: ScreeningOverdue for a report nobody screened, RescreeningOverdue for one that waited
for more information past its re-screen deadline."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from services.intake.app.policies import fire_overdue, screening_overdue_every
from services.intake.domain import parse_time
from shared.envelope import Aggregate
from tests.intake.conftest import ago, report_body, stop


async def _overdue_count(intake: Any, report_id: str) -> int:
    stored = await intake.runtime.store.load(Aggregate("intake", "hq", "report", report_id))
    return [e.event.name for e in stored].count("ScreeningOverdue")


async def test_two_instances_running_the_loop_fire_once(make_intake: Callable[..., Any]) -> None:
    loop = screening_overdue_every(0.05)
    a = await make_intake("a", background=[loop])
    b = await make_intake("b", background=[loop])
    try:
        operator = a.as_("hotline_operator")
        late = await operator.post(
            "/reports", report_body(received_at=ago(hours=25), immediate_danger=True)
        )
        on_time = await operator.post("/reports", report_body(received_at=ago(hours=25)))
        late_id = late.json()["report_id"]
        for _ in range(100):
            if await _overdue_count(a, late_id):
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # many more passes on both instances
        assert await _overdue_count(a, late_id) == 1
        assert await _overdue_count(a, on_time.json()["report_id"]) == 0  # 7 days, not 24 h
        listed = await b.as_("screener").get("/reports", overdue=True)
        assert [r["report_id"] for r in listed.json()["items"]] == [late_id]
        # Screening late still works and says it was late.
        screened = await b.as_("screener").post(
            f"/reports/{late_id}/screening",
            {"decision": "protection_concern", "urgency": "emergency", "rationale": "Urgence"},
        )
        assert screened.status_code == 200, screened.text
    finally:
        await stop(a)
        await stop(b)


async def test_two_passes_at_the_same_moment_store_one_event(
    make_intake: Callable[..., Any],
) -> None:
    a = await make_intake("a")
    b = await make_intake("b")
    try:
        ids = []
        for _ in range(5):
            answer = await a.as_("hotline_operator").post(
                "/reports", report_body(received_at=ago(days=8))
            )
            ids.append(answer.json()["report_id"])
        fired = await asyncio.gather(fire_overdue(a.runtime), fire_overdue(b.runtime))
        assert sum(fired) == 5
        assert [await _overdue_count(a, rid) for rid in ids] == [1] * 5
        assert await fire_overdue(a.runtime) == 0
    finally:
        await stop(a)
        await stop(b)


async def _names(intake: Any, report_id: str) -> list[str]:
    stored = await intake.runtime.store.load(Aggregate("intake", "hq", "report", report_id))
    return [e.event.name for e in stored]


async def test_more_information_not_rescreened_is_flagged_once_per_deadline(
    make_intake: Callable[..., Any],
) -> None:
    a = await make_intake("a")
    b = await make_intake("b")
    try:
        created = await a.as_("hotline_operator").post("/reports", report_body())
        rid = created.json()["report_id"]
        screener = a.as_("screener")
        ask = {"decision": "more_information", "urgency": "high", "rationale": "Rappeler"}
        asked = await screener.post(f"/reports/{rid}/screening", ask)
        assert asked.status_code == 200, asked.text
        rescreen_by = parse_time(asked.json()["rescreen_by"])
        assert timedelta(hours=47) < rescreen_by - datetime.now(UTC) <= timedelta(hours=48)
        listed = (await screener.get("/reports", status="more_information")).json()["items"]
        assert listed[0]["rescreen_by"] == asked.json()["rescreen_by"]
        assert listed[0]["rescreen_overdue"] is False
        assert await fire_overdue(a.runtime, now=rescreen_by - timedelta(minutes=1)) == 0
        later = rescreen_by + timedelta(minutes=1)
        fired = await asyncio.gather(
            fire_overdue(a.runtime, now=later), fire_overdue(b.runtime, now=later)
        )
        assert sum(fired) == 1
        assert await fire_overdue(b.runtime, now=later + timedelta(days=3)) == 0
        assert (await _names(a, rid)).count("RescreeningOverdue") == 1
        late = (await screener.get("/reports", overdue=True)).json()["items"]
        assert [r["report_id"] for r in late] == [rid] and late[0]["rescreen_overdue"] is True
        # Asked again: a new deadline, flagged once in its turn.
        again = await screener.post(f"/reports/{rid}/screening", ask)
        second_by = parse_time(again.json()["rescreen_by"])
        assert second_by > rescreen_by
        assert (await screener.get("/reports", overdue=True)).json()["items"] == []
        fired = await asyncio.gather(
            fire_overdue(a.runtime, now=second_by + timedelta(minutes=1)),
            fire_overdue(b.runtime, now=second_by + timedelta(minutes=1)),
        )
        assert sum(fired) == 1
        # Screened for good: nothing more to flag, ever.
        final = {"decision": "not_a_concern", "urgency": "normal", "rationale": "Rien"}
        assert (await screener.post(f"/reports/{rid}/screening", final)).status_code == 200
        assert await fire_overdue(a.runtime, now=second_by + timedelta(days=30)) == 0
        names = await _names(a, rid)
        assert names.count("RescreeningOverdue") == 2 and "ScreeningOverdue" not in names
    finally:
        await stop(a)
        await stop(b)
