"""What INTAKE's events do to the facts: reports as received and screened, the children they
name with what was known of their ages, and the duplicates intake confirmed."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import not_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts import intake as intake_ev
from services.reporting.read.facts.tables import (
    child_links,
    projection,
    report_children,
    reports,
    upsert,
)
from services.reporting.read.facts.values import (
    age_on,
    band_from,
    day_of,
    event_time,
    instant,
    sex_code,
)
from shared.recorded import RecordedEvent


@projection.on("intake", "ReportRegistered")
async def report_registered(conn: AsyncConnection, recorded: RecordedEvent) -> None:
    e = recorded.event
    assert isinstance(e, intake_ev.ReportRegistered)
    received_at = instant(e.received_at, event_time(recorded))
    await conn.execute(
        upsert(
            reports,
            {
                "report_id": e.report_id,
                "agency": e.agency,
                "unit": e.unit,
                "channel": e.channel,
                "received_at": received_at,
                "commune": e.commune,
                "urgency": e.urgency,
                "concerns": sorted(set(e.concerns)),
                "screened_at": None,
                "screened_urgency": None,
                "screened_in_time": None,
                "overdue": False,
            },
            ["report_id"],
        )
    )
    received = received_at.date()
    for child in e.children:
        from_birth = _birth_age(child.date_of_birth, received)
        await conn.execute(
            upsert(
                report_children,
                {
                    "report_id": e.report_id,
                    "child_id": child.child_id,
                    "sex": sex_code(child.sex),
                    "age_band": band_from(
                        from_birth, child.age_years, child.age_min, child.age_max
                    ),
                    "age_from_birth": from_birth,
                    "age_years": child.age_years,
                    "age_min": child.age_min,
                    "age_max": child.age_max,
                },
                ["report_id", "child_id"],
            )
        )


AMENDED_FIELDS = {"channel", "commune", "urgency", "concerns", "received_at"}


@projection.on("intake", "ReportAmended")
async def report_amended(conn: AsyncConnection, recorded: RecordedEvent) -> None:
    e = recorded.event
    assert isinstance(e, intake_ev.ReportAmended)
    values: dict[str, Any] = {}
    for name, value in e.changes.items():
        if name not in AMENDED_FIELDS:
            continue
        if name == "concerns" and isinstance(value, list):
            values["concerns"] = sorted({str(v) for v in value})
        elif name == "received_at" and isinstance(value, str):
            values["received_at"] = instant(value, event_time(recorded))
        elif isinstance(value, str):
            values[name] = value
    if values:
        await conn.execute(
            update(reports).where(reports.c.report_id == e.report_id).values(**values)
        )


@projection.on("intake", "ReportScreened")
async def report_screened(conn: AsyncConnection, recorded: RecordedEvent) -> None:
    e = recorded.event
    assert isinstance(e, intake_ev.ReportScreened)
    # Only the first screening answers "was it screened in time"; a report already flagged
    # overdue was not, whatever a later screening says.
    await conn.execute(
        update(reports)
        .where(reports.c.report_id == e.report_id)
        .where(reports.c.screened_at.is_(None))
        .values(
            screened_at=instant(e.screened_at, event_time(recorded)),
            screened_urgency=e.urgency,
            screened_in_time=not_(reports.c.overdue) if e.within_deadline else False,
        )
    )


@projection.on("intake", "ScreeningOverdue")
async def screening_overdue(conn: AsyncConnection, recorded: RecordedEvent) -> None:
    e = recorded.event
    assert isinstance(e, intake_ev.ScreeningOverdue)
    await conn.execute(
        update(reports)
        .where(reports.c.report_id == e.report_id)
        .where(reports.c.screened_at.is_(None))
        .values(overdue=True)
    )


AGE_FIELDS = ("date_of_birth", "age_years", "age_min", "age_max")


@projection.on("intake", "ChildDetailsCorrected")
async def child_corrected(conn: AsyncConnection, recorded: RecordedEvent) -> None:
    e = recorded.event
    assert isinstance(e, intake_ev.ChildDetailsCorrected)
    changes = e.changes
    if "sex" not in changes and not any(f in changes for f in AGE_FIELDS):
        return
    rows = (
        await conn.execute(
            select(report_children, reports.c.received_at)
            .join(reports, reports.c.report_id == report_children.c.report_id)
            .where(report_children.c.child_id == e.child_id)
        )
    ).all()
    for row in rows:
        values: dict[str, Any] = {}
        if "sex" in changes:
            values["sex"] = sex_code(changes["sex"] if isinstance(changes["sex"], str) else None)
        from_birth, years, low, high = row.age_from_birth, row.age_years, row.age_min, row.age_max
        if "date_of_birth" in changes:
            dob = changes["date_of_birth"]
            from_birth = _birth_age(dob if isinstance(dob, str) else None, row.received_at.date())
        if "age_years" in changes:
            years = _int(changes["age_years"])
        if "age_min" in changes:
            low = _int(changes["age_min"])
        if "age_max" in changes:
            high = _int(changes["age_max"])
        values.update(
            age_from_birth=from_birth,
            age_years=years,
            age_min=low,
            age_max=high,
            age_band=band_from(from_birth, years, low, high),
        )
        await conn.execute(
            update(report_children)
            .where(report_children.c.report_id == row.report_id)
            .where(report_children.c.child_id == e.child_id)
            .values(**values)
        )


@projection.on("intake", "DuplicateConfirmed")
async def duplicate_confirmed(conn: AsyncConnection, recorded: RecordedEvent) -> None:
    e = recorded.event
    assert isinstance(e, intake_ev.DuplicateConfirmed)
    first, second = sorted((e.child_id, e.candidate_id))
    await conn.execute(
        insert(child_links).values(child_id=first, other_id=second).on_conflict_do_nothing()
    )


def _birth_age(dob: str | None, received: date) -> int | None:
    born = day_of(dob)
    return age_on(born, received) if born is not None else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
