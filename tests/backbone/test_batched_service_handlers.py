"""The services' batch handlers of the registration path (decision 0027) leave the read model
that applying the same events one at a time leaves: intake's registrations (with the
matcher's key table, decision 0032), casework's child names and reporting's registered
reports, on a real PostgreSQL. The stream is one the log can hold: each report registered
once, each child recorded once, after its report (intake's batch handler relies on it)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import pytest
from sqlalchemy import MetaData, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from contracts.intake import ChildRecorded, DuplicateSuggested, ReportedChild, ReportRegistered
from services.casework.read import child_names
from services.casework.read.tables import metadata as casework_metadata
from services.intake.read import metadata as intake_metadata
from services.intake.read import registrations
from services.reporting.read.facts import intake_handlers
from services.reporting.read.facts.tables import metadata as facts_metadata
from shared.events import DomainEvent
from shared.recorded import Position, RecordedEvent

pytestmark = pytest.mark.connected

Handler = Callable[[AsyncConnection, Sequence[RecordedEvent]], Awaitable[None]]
WHEN = "2025-03-02T09:00:00Z"


def _recorded(seq: int, aggregate: str, ev: DomainEvent) -> RecordedEvent:
    envelope = {
        "id": f"ev-{seq}",
        "type": f"{ev.context}.{ev.name}",
        "time": WHEN,
        "aggregateversion": 1,
        "actor": "op-1",
        "actoragency": "ocpm",
        "actorrole": "hotline_operator",
        "data": ev.model_dump(mode="json"),
    }
    subject = f"intake.hq.{aggregate}.{ev.name}"
    return RecordedEvent(
        Position("intake", seq), subject, json.dumps(envelope).encode(), envelope, ev
    )


def _report(report_id: str, commune: str, *names: str) -> ReportRegistered:
    return ReportRegistered(
        report_id=report_id,
        agency="ocpm",
        channel="hotline_116",
        received_at=WHEN,
        commune=commune,
        concerns=["child_labour", "neglect"],
        children=[
            ReportedChild(child_id=f"{report_id}-c{i}", name=n, sex="female", age_years=9)
            for i, n in enumerate(names)
        ],
        urgency="emergency",
    )


def _child(report_id: str, i: int, name: str) -> ChildRecorded:
    child_id = f"{report_id}-c{i}"
    return ChildRecorded(
        child_id=child_id,
        report_id=report_id,
        agency="ocpm",
        commune="bj-littoral-cotonou",
        received_at=WHEN,
        details=ReportedChild(child_id=child_id, name=name, sex="female", age_years=9),
    )


def _stream() -> list[RecordedEvent]:
    events: list[tuple[str, DomainEvent]] = [
        ("report.r1", _report("r1", "bj-littoral-cotonou", "Awa Diallo", "Oluwaseun Adeyemi")),
        ("child.r1-c0", _child("r1", 0, "Awa Diallo")),
        ("child.r1-c1", _child("r1", 1, "Oluwaseun Adeyemi")),
        ("report.r2", _report("r2", "bj-plateau-ketou", "Seun Adeyemi")),
        ("child.r2-c0", _child("r2", 0, "Seun Adeyemi")),
        (
            "child.r2-c0",
            DuplicateSuggested(child_id="r2-c0", candidate_id="r1-c1", score=0.9, reasons=["name"]),
        ),
        ("report.r3", _report("r3", "bj-plateau-ketou", "Awa Dialo", "Kehinde Bello")),
        ("child.r3-c0", _child("r3", 0, "Awa Dialo")),
        ("child.r3-c1", _child("r3", 1, "Kehinde Bello")),
    ]
    return [_recorded(i + 1, agg, ev) for i, (agg, ev) in enumerate(events)]


async def _dump(conn: AsyncConnection, metadata: MetaData) -> dict[str, list[Any]]:
    found = {}
    for table in metadata.sorted_tables:
        rows = (await conn.execute(select(table))).all()
        found[table.name] = sorted((tuple(map(repr, r)) for r in rows), key=repr)
    return found


async def _apply(
    engine: AsyncEngine, metadata: MetaData, handler: Handler, runs: list[list[RecordedEvent]]
) -> dict[str, list[Any]]:
    async with engine.begin() as conn:
        await conn.run_sync(metadata.drop_all)
        await conn.run_sync(metadata.create_all)
        for run in runs:
            await handler(conn, run)
        return await _dump(conn, metadata)


@pytest.mark.parametrize(
    ("metadata", "handler", "names"),
    [
        (
            intake_metadata,
            registrations._registrations,
            {"ReportRegistered", "ChildRecorded", "DuplicateSuggested"},
        ),
        (casework_metadata, child_names._recorded, {"ChildRecorded"}),
        (facts_metadata, intake_handlers.reports_registered, {"ReportRegistered"}),
    ],
    ids=["intake", "casework", "reporting"],
)
async def test_a_batch_leaves_what_event_by_event_leaves(
    engine: AsyncEngine, metadata: MetaData, handler: Handler, names: set[str]
) -> None:
    mine = [e for e in _stream() if e.event.name in names]
    one_by_one = await _apply(engine, metadata, handler, [[e] for e in mine])
    batched = await _apply(engine, metadata, handler, [mine])
    assert batched == one_by_one
    assert any(one_by_one.values())
    if metadata is intake_metadata:  # the matcher's index follows the records
        keys = one_by_one["intake_child_keys"]
        assert {k[1] for k in keys} == {"'r1-c0'", "'r1-c1'", "'r2-c0'", "'r3-c0'", "'r3-c1'"}
        assert one_by_one["intake_pending_children"] == []  # every owed child recorded
