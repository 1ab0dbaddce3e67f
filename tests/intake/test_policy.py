"""The ScreeningOverdue policy fires once per report, even with two instances running it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from services.intake.policies import fire_overdue, screening_overdue_every
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
