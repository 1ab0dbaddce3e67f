"""From the facts tables to the records an indicator counts: one loader per kind of fact,
reading only the rows a query's range needs. Facts of different streams meet here, by id.

``LOADERS`` names each indicator's loader: those of reports, children and cases are in
:mod:`case_sources`, of referrals in :mod:`referral_sources`, of the workforce in
:mod:`workforce`; the statistical reports' is here."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from services.reporting.domain.periods import local_day
from services.reporting.domain.query import Query, Record
from services.reporting.read import publications
from services.reporting.read.case_sources import (
    case_closures,
    caseload,
    cases_open,
    cases_opened,
    children_served,
    qualified_workers,
    reports_received,
    reports_screened,
    time_to,
    trafficking_cases,
)
from services.reporting.read.record_fields import Loader, bounds
from services.reporting.read.referral_sources import referrals_at
from services.reporting.read.workforce import staff_assessed, staff_trained, training_sessions

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
    "time_to_case_opening": time_to("opened_at"),
    "time_to_first_assessment": time_to("first_assessment_at"),
    "time_to_case_plan": time_to("plan_at"),
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
