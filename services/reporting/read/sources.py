"""From the facts tables to the records an indicator counts: one loader per kind of fact,
reading only the rows a query's range needs. Facts of different streams meet here, by id."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from services.reporting.domain.casestate import Change, states_at
from services.reporting.domain.dimensions import TRAFFICKING_PREFIX, UNKNOWN
from services.reporting.domain.periods import day_start, local_day
from services.reporting.domain.query import Query, Record, Value
from services.reporting.read import facts as f
from services.reporting.read import publications
from services.reporting.read.workforce import staff_assessed, staff_trained, training_sessions
from shared.reference import locations

Loader = Callable[[AsyncConnection, Query], Awaitable[list[Record]]]


def place(commune: str | None) -> dict[str, str]:
    """Commune and department of a location code; ``unknown`` for anything the configured
    hierarchy does not hold."""
    areas = locations().areas
    if not commune or commune not in areas:
        return {"commune": UNKNOWN, "department": UNKNOWN}
    area = areas[commune]
    return {
        "commune": commune if area.level > 0 else UNKNOWN,
        "department": locations().top_level_of(commune),
    }


def hours(start: datetime, end: datetime) -> float:
    return max(0.0, (end - start).total_seconds() / 3600)


def bounds(query: Query) -> tuple[datetime, datetime]:
    return day_start(query.start), day_start(query.end + timedelta(days=1))


def canonical_children(links: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Child records confirmed to be the same child, each mapped to one id (the smallest of
    its group), so they count once."""
    parent: dict[str, str] = {}

    def root(x: str) -> str:
        while parent.get(x, x) != x:
            parent[x] = parent.get(parent[x], parent[x])
            x = parent[x]
        return x

    for a, b in links:
        parent.setdefault(a, a)
        parent.setdefault(b, b)
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {x: root(x) for x in parent}


def _concerns(values: Any, only_trafficking: bool = False) -> tuple[str, ...]:
    concerns = tuple(str(v) for v in (values or []))
    if only_trafficking:
        concerns = tuple(c for c in concerns if c.startswith(TRAFFICKING_PREFIX))
    return concerns or (UNKNOWN,)


def _case_dims(row: Any, only_trafficking: bool = False) -> dict[str, Value]:
    return {
        "sex": row.sex,
        "age_band": row.age_band,
        "concern": _concerns(row.concerns, only_trafficking),
        "agency": row.agency,
        "urgency": row.urgency,
        **place(row.commune),
    }


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
                "concern": _concerns(row.concerns),
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
                    "concern": _concerns(row.concerns),
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
        Record(unit=row.case_id, day=local_day(row.opened_at), dims=_case_dims(row))
        for row in await _cases_by(conn, query, "opened_at")
    ]


async def trafficking_cases(conn: AsyncConnection, query: Query) -> list[Record]:
    return [
        Record(unit=row.case_id, day=local_day(row.opened_at), dims=_case_dims(row, True))
        for row in await _cases_by(conn, query, "opened_at")
        if any(str(c).startswith(TRAFFICKING_PREFIX) for c in row.concerns or [])
    ]


def _time_to(column: str) -> Loader:
    async def load(conn: AsyncConnection, query: Query) -> list[Record]:
        return [
            Record(
                unit=row.case_id,
                day=local_day(getattr(row, column)),
                dims=_case_dims(row),
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
        dims = _case_dims(row)
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
            dims = _case_dims(row)
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
                dims = _case_dims(row)
                dims["agency"] = state.agency or row.agency
                records.append(
                    Record(unit=row.case_id, day=day, dims=dims, outcome=bool(state.qualified))
                )
    return records


# -- referrals --------------------------------------------------------------------------------


def _referral_dims(row: Any) -> dict[str, Value]:
    return {
        "service_kind": row.service_kind,
        "to_unit": row.to_unit,
        "to_agency": row.to_agency,
        "from_agency": row.from_agency,
        "urgency": row.urgency,
    }


def referrals_at(column: str) -> Loader:
    async def load(conn: AsyncConnection, query: Query) -> list[Record]:
        start, end = bounds(query)
        r = f.referrals
        rows = (await conn.execute(select(r).where(r.c[column] >= start, r.c[column] < end))).all()
        return [
            Record(
                unit=row.referral_id,
                day=local_day(getattr(row, column)),
                dims=_referral_dims(row),
                value=hours(row.made_at, row.accepted_at) if row.accepted_at else 0.0,
            )
            for row in rows
        ]

    return load


# -- statistical reports ----------------------------------------------------------------------


async def reports_on_time(conn: AsyncConnection, query: Query) -> list[Record]:
    start, end = bounds(query)
    p = publications.publications
    rows = (
        await conn.execute(select(p).where(p.c.published_at >= start, p.c.published_at < end))
    ).all()
    return [
        Record(
            unit=row.report_id,
            day=local_day(row.published_at),
            dims={"definition": row.definition_id},
            outcome=row.within_deadline,
        )
        for row in rows
    ]


LOADERS: dict[str, Loader] = {
    "reports_received": reports_received,
    "reports_screened_within_deadline": reports_screened,
    "children_served": children_served,
    "trafficking_cases": trafficking_cases,
    "cases_opened": cases_opened,
    "cases_open": cases_open,
    "time_to_case_opening": _time_to("opened_at"),
    "time_to_first_assessment": _time_to("first_assessment_at"),
    "time_to_case_plan": _time_to("plan_at"),
    "case_closures": case_closures,
    "caseload_per_worker": caseload,
    "cases_with_qualified_worker": qualified_workers,
    "referrals_sent": referrals_at("made_at"),
    "referrals_accepted": referrals_at("accepted_at"),
    "referrals_declined": referrals_at("declined_at"),
    "referrals_completed": referrals_at("completed_at"),
    "referrals_overdue": referrals_at("overdue_at"),
    "referral_time_to_acceptance": referrals_at("accepted_at"),
    "training_sessions": training_sessions,
    "staff_trained": staff_trained,
    "staff_assessed": staff_assessed,
    "statistical_reports_on_time": reports_on_time,
}
