"""What INTAKE's events do to the facts: reports as received and screened, the children they
name with what was known of their ages, and the duplicates intake confirmed."""

from __future__ import annotations

from collections.abc import Sequence
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


def _report_row(recorded: RecordedEvent) -> dict[str, Any]:
    e = recorded.event
    assert isinstance(e, intake_ev.ReportRegistered)
    return {
        "report_id": e.report_id,
        "agency": e.agency,
        "unit": e.unit,
        "channel": e.channel,
        "received_at": instant(e.received_at, event_time(recorded)),
        "commune": e.commune,
        "urgency": e.urgency,
        "concerns": sorted(set(e.concerns)),
        "screened_at": None,
        "screened_urgency": None,
        "screened_in_time": None,
        "overdue": False,
    }


def _children_rows(e: intake_ev.ReportRegistered, received: date) -> list[dict[str, Any]]:
    rows = []
    for child in e.children:
        from_birth = _birth_age(child.date_of_birth, received)
        rows.append(
            {
                "report_id": e.report_id,
                "child_id": child.child_id,
                "sex": sex_code(child.sex),
                "age_band": band_from(from_birth, child.age_years, child.age_min, child.age_max),
                "age_from_birth": from_birth,
                "age_years": child.age_years,
                "age_min": child.age_min,
                "age_max": child.age_max,
            }
        )
    return rows


def _upsert_many(table: Any, columns: list[str], keys: list[str]) -> Any:
    """``upsert`` built once for an executemany: every column but the keys overwritten."""
    stmt = insert(table)
    return stmt.on_conflict_do_update(
        index_elements=keys, set_={c: stmt.excluded[c] for c in columns if c not in keys}
    )


_REPORT_COLUMNS = [
    "report_id",
    "agency",
    "unit",
    "channel",
    "received_at",
    "commune",
    "urgency",
    "concerns",
    "screened_at",
    "screened_urgency",
    "screened_in_time",
    "overdue",
]
_CHILD_COLUMNS = [
    "report_id",
    "child_id",
    "sex",
    "age_band",
    "age_from_birth",
    "age_years",
    "age_min",
    "age_max",
]
_upsert_reports = _upsert_many(reports, _REPORT_COLUMNS, ["report_id"])
_upsert_children = _upsert_many(report_children, _CHILD_COLUMNS, ["report_id", "child_id"])


@projection.on_batch("intake", "ReportRegistered")
async def reports_registered(conn: AsyncConnection, run: Sequence[RecordedEvent]) -> None:
    """A run of registrations (decision 0027): the reports in one executemany, then their
    children in another. The two tables are written independently, each in stream order, so
    a report registered twice ends as its last registration left it, as event by event."""
    report_rows: list[dict[str, Any]] = []
    children_rows: list[dict[str, Any]] = []
    for recorded in run:
        e = recorded.event
        assert isinstance(e, intake_ev.ReportRegistered)
        row = _report_row(recorded)
        report_rows.append(row)
        children_rows.extend(_children_rows(e, row["received_at"].date()))
    await conn.execute(_upsert_reports, report_rows)
    if children_rows:
        await conn.execute(_upsert_children, children_rows)


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
