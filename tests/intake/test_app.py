"""Intake's commands and its screening sweep, fast, on the in-memory event store."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from contracts.intake import ReportedChild, ReportRegistered
from services.intake.app import reports
from services.intake.app.processes import screening_overdue
from services.intake.domain import DomainError, iso
from shared.commands import Expect
from shared.envelope import Actor
from shared.eventstore import ConcurrencyConflict
from tests.kitchen import Kitchen

pytestmark = pytest.mark.app

OPERATOR = Actor(user="op-1", agency="ocpm", role="hotline_operator")
SCREENER = Actor(user="s-1", agency="ocpm", role="screener")


def registered(report_id: str, received: datetime) -> ReportRegistered:
    return ReportRegistered(
        report_id=report_id,
        agency="ocpm",
        channel="hotline_116",
        received_at=iso(received),
        commune="bj-littoral-cotonou",
        concerns=["child_labour"],
        children=[ReportedChild(child_id=f"{report_id}-c", name="Awa", sex="female")],
        urgency="emergency",
    )


def mine(state: object) -> bool:
    return True


async def test_a_screening_is_decided_on_the_report_as_the_screener_saw_it() -> None:
    kitchen = Kitchen.of("intake")
    created = await reports.register(
        kitchen, registered("r-1", datetime.now(UTC)), actor=OPERATOR, key=None
    )
    amended = await reports.amend(
        kitchen,
        "r-1",
        changes={"narrative": "More"},
        reason="Call back",
        expect=Expect.seen(created.version),
        actor=OPERATOR,
        key=None,
        visible=mine,
    )
    with pytest.raises(ConcurrencyConflict) as stale:
        await kitchen.commands.execute(
            reports.REPORT,
            "r-1",
            lambda state: [],
            expect=Expect.seen(created.version + 99),
            actor=SCREENER,
        )
    assert stale.value.actual == amended.version
    with pytest.raises(DomainError) as emptied:
        await reports.amend(
            kitchen,
            "r-1",
            changes={"commune": None},
            reason="oops",
            expect=Expect.seen(amended.version),
            actor=OPERATOR,
            key=None,
            visible=mine,
        )
    assert (emptied.value.code, emptied.value.field) == ("required_field", "changes.commune")
    assert await kitchen.names("intake", "report", "r-1") == ["ReportRegistered", "ReportAmended"]


async def test_a_registration_retried_with_its_key_is_stored_once() -> None:
    kitchen = Kitchen.of("intake")
    event = registered("r-2", datetime.now(UTC))
    first = await reports.register(kitchen, event, actor=OPERATOR, key="call-7")
    again = await reports.register(kitchen, event, actor=OPERATOR, key="call-7")
    assert again.duplicate and again.version == first.version
    assert await kitchen.names("intake", "report", "r-2") == ["ReportRegistered"]


async def test_two_instances_sweeping_flag_a_missed_deadline_once() -> None:
    one = Kitchen.of("intake")
    two = one.twin()
    received = datetime.now(UTC) - timedelta(hours=30)  # an emergency: 24 hours
    await reports.register(one, registered("r-3", received), actor=OPERATOR, key=None)
    sweep = screening_overdue()
    now = datetime.now(UTC)
    flagged = await asyncio.gather(sweep.flag(one, "r-3", now), sweep.flag(two, "r-3", now))
    assert sorted(flagged) == [False, True]
    assert not await sweep.flag(one, "r-3", now + timedelta(days=1))  # never twice
    assert (await one.names("intake", "report", "r-3")).count("ScreeningOverdue") == 1
    # Not yet due: nothing.
    await reports.register(one, registered("r-4", now), actor=OPERATOR, key=None)
    assert not await sweep.flag(one, "r-4", now)
