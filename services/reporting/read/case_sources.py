"""The loaders of reports, children and cases: the records their indicators count, read from
the facts tables for the query's range only."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from services.reporting.domain.casestate import Change, states_at
from services.reporting.domain.dimensions import TRAFFICKING_PREFIX, UNKNOWN
from services.reporting.domain.periods import day_start, local_day
from services.reporting.domain.query import Query, Record
from services.reporting.read import facts as f
from services.reporting.read.record_fields import (
    Loader,
    bounds,
    canonical_children,
    case_dims,
    concerns_of,
    hours,
    place,
)

# -- reports ----------------------------------------------------------------------------------


async def reports_received(conn: AsyncConnection, query: Query) -> list[Record]:
    start, end = bounds(query)
    r, ch = f.reports, f.report_children
    rows = (
        await conn.execute(select(r).where(r.c.received_at >= start, r.c.received_at < end))
    ).all()
    children: dict[str, list[Any]] = defaultdict(list)
    for child in (
        await conn.execute(
            select(ch.c.report_id, ch.c.sex, ch.c.age_band)
            .join(r, r.c.report_id == ch.c.report_id)
            .where(r.c.received_at >= start, r.c.received_at < end)
        )
    ).all():
        children[child.report_id].append(child)
    return [
        Record(
            unit=row.report_id,
            day=local_day(row.received_at),
            dims={
                "channel": row.channel,
                "urgency": row.urgency,
                "agency": row.agency,
                "concern": concerns_of(row.concerns),
                "sex": tuple(sorted({c.sex for c in children[row.report_id]})) or (UNKNOWN,),
                "age_band": tuple(sorted({c.age_band for c in children[row.report_id]}))
                or (UNKNOWN,),
                **place(row.commune),
            },
        )
        for row in rows
    ]


async def reports_screened(conn: AsyncConnection, query: Query) -> list[Record]:
    start, end = bounds(query)
    r = f.reports
    rows = (
        await conn.execute(
            select(r)
            .where(r.c.received_at >= start, r.c.received_at < end)
            .where(or_(r.c.screened_at.is_not(None), r.c.overdue))
        )
    ).all()
    return [
        Record(
            unit=row.report_id,
            day=local_day(row.received_at),
            dims={
                "channel": row.channel,
                "urgency": row.screened_urgency or row.urgency,
                "agency": row.agency,
                **place(row.commune),
            },
            outcome=bool(row.screened_in_time) if row.screened_at is not None else False,
        )
        for row in rows
    ]


# -- children and cases -----------------------------------------------------------------------


async def children_served(conn: AsyncConnection, query: Query) -> list[Record]:
    start, end = bounds(query)
    s, c = f.services, f.cases
    rows = (
        await conn.execute(
            select(s, c.c.sex, c.c.age_band, c.c.concerns, c.c.commune)
            .outerjoin(c, c.c.case_id == s.c.case_id)
            .where(
                or_(
                    s.c.delivered_on.between(query.start, query.end),
                    and_(
                        s.c.delivered_on.is_(None),
                        s.c.delivered_at >= start,
                        s.c.delivered_at < end,
                    ),
                )
            )
        )
    ).all()
    links = (await conn.execute(select(f.child_links))).all()
    same = canonical_children((link.child_id, link.other_id) for link in links)
    records = []
    for row in rows:
        day = row.delivered_on or local_day(row.delivered_at)
        records.append(
            Record(
                unit=same.get(row.child_id, row.child_id),
                day=day,
                dims={
                    "sex": row.sex or UNKNOWN,
                    "age_band": row.age_band or UNKNOWN,
                    "concern": concerns_of(row.concerns),
                    "service_kind": row.service_kind,
                    "agency": row.agency,
                    **place(row.commune),
                },
            )
        )
    return records


async def _cases_by(conn: AsyncConnection, query: Query, column: str) -> list[Any]:
    start, end = bounds(query)
    c = f.cases
    return list(
        (await conn.execute(select(c).where(c.c[column] >= start, c.c[column] < end))).all()
    )


async def cases_opened(conn: AsyncConnection, query: Query) -> list[Record]:
    return [
        Record(unit=row.case_id, day=local_day(row.opened_at), dims=case_dims(row))
        for row in await _cases_by(conn, query, "opened_at")
    ]


async def trafficking_cases(conn: AsyncConnection, query: Query) -> list[Record]:
    return [
        Record(unit=row.case_id, day=local_day(row.opened_at), dims=case_dims(row, True))
        for row in await _cases_by(conn, query, "opened_at")
        if any(str(c).startswith(TRAFFICKING_PREFIX) for c in row.concerns or [])
    ]


def time_to(column: str) -> Loader:
    async def load(conn: AsyncConnection, query: Query) -> list[Record]:
        return [
            Record(
                unit=row.case_id,
                day=local_day(getattr(row, column)),
                dims=case_dims(row),
                value=hours(row.received_at, getattr(row, column)),
            )
            for row in await _cases_by(conn, query, column)
        ]

    return load


async def case_closures(conn: AsyncConnection, query: Query) -> list[Record]:
    start, end = bounds(query)
    c, ch = f.cases, f.case_changes
    rows = (
        await conn.execute(
            select(ch.c.case_id, ch.c.seq, ch.c.at, ch.c.reason, c)
            .join(c, c.c.case_id == ch.c.case_id)
            .where(ch.c.kind == "closed", ch.c.at >= start, ch.c.at < end)
        )
    ).all()
    # The agency that closed it: the last one to take the case over before the closure.
    transfers: dict[str, list[Any]] = defaultdict(list)
    for t in (
        await conn.execute(
            select(ch.c.case_id, ch.c.seq, ch.c.agency)
            .where(ch.c.kind == "transfer")
            .where(ch.c.case_id.in_({row.case_id for row in rows}))
        )
    ).all():
        transfers[t.case_id].append(t)
    records = []
    for row in rows:
        dims = case_dims(row)
        earlier = [t for t in transfers[row.case_id] if t.seq < row.seq]
        if earlier:
            dims["agency"] = max(earlier, key=lambda t: t.seq).agency
        dims["closure_reason"] = row.reason or UNKNOWN
        records.append(Record(unit=f"{row.case_id}:{row.seq}", day=local_day(row.at), dims=dims))
    return records


async def _states(conn: AsyncConnection, query: Query) -> list[tuple[date, list[tuple[Any, Any]]]]:
    """For each period asked, every case open at its end with its state then."""
    periods = query.periods()
    instants = [day_start(p.end + timedelta(days=1)) for p in periods]
    c, ch = f.cases, f.case_changes
    last = instants[-1]
    case_rows = {
        row.case_id: row
        for row in (await conn.execute(select(c).where(c.c.opened_at < last))).all()
    }
    changes: dict[str, list[Change]] = defaultdict(list)
    for row in (await conn.execute(select(ch).where(ch.c.at < last))).all():
        changes[row.case_id].append(
            Change(
                seq=row.seq,
                at=row.at,
                kind=row.kind,
                stage=row.stage,
                risk=row.risk,
                worker=row.worker,
                agency=row.agency,
                reason=row.reason,
                qualified=row.qualified,
            )
        )
    out: list[tuple[date, list[tuple[Any, Any]]]] = [(p.start, []) for p in periods]
    for case_id, row in case_rows.items():
        for index, state in enumerate(states_at(changes.get(case_id, []), instants)):
            if state.open:
                out[index][1].append((row, state))
    return out


async def cases_open(conn: AsyncConnection, query: Query) -> list[Record]:
    records = []
    for day, open_cases in await _states(conn, query):
        for row, state in open_cases:
            dims = case_dims(row)
            dims.update(stage=state.stage, risk=state.risk, agency=state.agency or row.agency)
            records.append(Record(unit=row.case_id, day=day, dims=dims))
    return records


async def caseload(conn: AsyncConnection, query: Query) -> list[Record]:
    records = []
    for day, open_cases in await _states(conn, query):
        per_worker: dict[str, list[str]] = defaultdict(list)
        for row, state in open_cases:
            if state.worker:
                per_worker[state.worker].append(state.agency or row.agency)
        for worker, agencies in per_worker.items():
            records.append(
                Record(
                    unit=worker,
                    day=day,
                    dims={"agency": tuple(sorted(set(agencies)))},
                    value=float(len(agencies)),
                )
            )
    return records


async def qualified_workers(conn: AsyncConnection, query: Query) -> list[Record]:
    records = []
    for day, open_cases in await _states(conn, query):
        for row, state in open_cases:
            if state.worker:
                dims = case_dims(row)
                dims["agency"] = state.agency or row.agency
                records.append(
                    Record(unit=row.case_id, day=day, dims=dims, outcome=bool(state.qualified))
                )
    return records
