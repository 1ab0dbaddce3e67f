"""Reporting's own aggregates, fast, on the in-memory event store: a periodic report is
retired once, whatever the retries and races."""

from __future__ import annotations

import asyncio

import pytest

from contracts.reporting import ReportItem, StatisticalReportDefined, StatisticalReportRetired
from services.reporting.app.aggregates import DEFINITION
from services.reporting.domain.definitions import retire
from shared.commands import Expect
from shared.domain import DomainError
from shared.envelope import Actor
from shared.eventstore import ConcurrencyConflict
from shared.i18n import Message
from tests.kitchen import Kitchen

pytestmark = pytest.mark.app

ADMIN = Actor(user="a-1", agency="insae", role="agency_admin")
ALREADY = DomainError("report_already_retired", Message(en="Retired.", fr="Retiré."))
RETIRED = StatisticalReportRetired(
    definition_id="d-1", reason="Ended", retired_at="2026-04-05T09:00:00Z", last_period="2026-03"
)


async def defined(kitchen: Kitchen) -> int:
    event = StatisticalReportDefined(
        definition_id="d-1",
        title_en="Reports received",
        title_fr="Signalements reçus",
        items=[ReportItem(indicator="reports_received")],
        period_kind="month",
        due_days=10,
        first_period="2026-01",
    )
    outcome = await kitchen.commands.execute(
        DEFINITION, "d-1", lambda _: [event], expect=Expect.new(), actor=ADMIN
    )
    return outcome.version


async def retiring(kitchen: Kitchen, seen: int, key: str | None) -> object:
    return await kitchen.commands.execute(
        DEFINITION,
        "d-1",
        lambda state: retire(state, RETIRED, ALREADY),
        expect=Expect.seen(seen),
        actor=ADMIN,
        key=key,
    )


async def test_a_report_is_retired_once_whatever_the_races_and_retries() -> None:
    one = Kitchen.of("audit")
    two = one.twin()
    version = await defined(one)
    results = await asyncio.gather(
        retiring(one, version, "by-one"), retiring(two, version, "by-two"), return_exceptions=True
    )
    conflicts = [r for r in results if isinstance(r, ConcurrencyConflict)]
    assert len(conflicts) == 1  # the other administrator hears the report moved on
    # The winner's retry (same key, same If-Match) is answered as the first time.
    key = "by-one" if results[0] is not conflicts[0] else "by-two"
    again = await retiring(one, version, key)
    assert getattr(again, "duplicate", False)
    # Decided on the report as it now is, a second retirement is refused.
    current = (await one.commands.load(DEFINITION, "d-1")).version
    with pytest.raises(DomainError) as refused:
        await retiring(two, current, "later")
    assert refused.value.code == "report_already_retired"
    assert (await one.names("audit", "statdefinition", "d-1")).count(
        "StatisticalReportRetired"
    ) == 1
