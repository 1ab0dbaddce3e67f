"""Retiring a periodic report: an agency administrator ends a series with a reason, and says
which period is the last still owed (by default the last one closed when it is retired). The
policy publishes up to that period and nothing after; what was published stays published.

The retirement is appended on the definition's aggregate at the version the projection shows,
so of two retirements at once the server keeps one and the other is told it came second. A
retry with the same ``Idempotency-Key`` appends at the version the first attempt was appended
at: the event store finds its own earlier event there and answers as the first time."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import ConfigDict, Field, field_validator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.reporting import StatisticalReportRetired
from services.reporting.app.aggregates import DEFINITION
from services.reporting.app.report_tables import iso
from services.reporting.domain.definitions import retire
from services.reporting.domain.periods import (
    Period,
    kind_of_key,
    local_day,
    parse_period,
    period_of,
)
from services.reporting.read.publications import definitions, publications
from services.reporting.web.answers import DefinitionOut
from services.reporting.web.http import engine, invalid
from services.reporting.web.permissions import permissions
from services.reporting.web.reports import (
    NOT_FOUND,
    DefinitionId,
    definition_answer,
    report_clock,
)
from shared.auth import Principal
from shared.command_http import actor_of, command_key, seen, tag
from shared.eventstore import ConcurrencyConflict
from shared.http import ApiError
from shared.i18n import LocalisedValueError, Message
from shared.service import Runtime
from shared.validation import JsonBody

router = APIRouter(prefix="/statistics", tags=["statistics"])

KINDS = {
    "month": Message(en="month (e.g. 2026-03)", fr="mois (p. ex. 2026-03)"),
    "quarter": Message(en="quarter (e.g. 2026-Q1)", fr="trimestre (p. ex. 2026-Q1)"),
    "year": Message(en="year (e.g. 2026)", fr="année (p. ex. 2026)"),
}


class RetireReport(JsonBody):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=1000, description="Why the report ends")
    last_period: str | None = Field(
        default=None,
        max_length=16,
        description="Key of the last period still owed (e.g. 2026-Q1); default: the last "
        "period that had closed when retired",
    )

    @field_validator("reason")
    @classmethod
    def _said(cls, reason: str) -> str:
        if not reason.strip():
            raise LocalisedValueError(Message(en="Give a reason.", fr="Indiquez un motif."))
        return reason.strip()


def already_retired(row: Any) -> ApiError:
    when = iso(row.retired_at) if row is not None and row.retired_at is not None else None
    return ApiError(
        409,
        "report_already_retired",
        Message(
            en="This statistical report is already retired; it cannot be retired again.",
            fr="Ce rapport statistique est déjà retiré ; il ne peut pas l'être une seconde fois.",
        ),
        extra={"retired_at": when},
    )


def last_owed(
    value: str | None, row: Any, today: date, published_up_to: Period | None
) -> str | None:
    """The key of the last period still owed, or None when none is; refuses a key that is
    malformed, of another kind, before the first period, or before a published one."""
    kind = row.period_kind
    first = parse_period(row.first_period, kind)
    if value is None:
        closed = period_of(period_of(today, kind).start - timedelta(days=1), kind)
        return closed.key if closed.start >= first.start else None
    try:
        last = parse_period(value, kind)
    except ValueError:
        other = kind_of_key(value)
        if other is not None and other != kind:
            expected = KINDS[kind]
            raise invalid(
                "last_period",
                Message(
                    en=f"This report is published by {expected.en}; give a period of that kind.",
                    fr=f"Ce rapport est publié par {expected.fr} ; donnez une période de ce type.",
                ),
            ) from None
        raise invalid(
            "last_period",
            Message(
                en="Not a period key (e.g. 2026-03, 2026-Q1 or 2026).",
                fr="Pas une clé de période (p. ex. 2026-03, 2026-Q1 ou 2026).",
            ),
        ) from None
    if last.start < first.start:
        raise invalid(
            "last_period",
            Message(
                en=f"Before the report's first period ({first.key}).",
                fr=f"Antérieure à la première période du rapport ({first.key}).",
            ),
        )
    if published_up_to is not None and last.start < published_up_to.start:
        raise invalid(
            "last_period",
            Message(
                en=f"The report is already published up to {published_up_to.key}: the last "
                "period owed cannot be earlier.",
                fr=f"Le rapport est déjà publié jusqu'à {published_up_to.key} : la dernière "
                "période due ne peut pas être antérieure.",
            ),
        )
    return last.key


async def _definition_row(conn: AsyncConnection, definition_id: str) -> Any:
    return (
        await conn.execute(select(definitions).where(definitions.c.definition_id == definition_id))
    ).first()


@router.post("/reports/{definition_id}/retirement")
async def retire_report(
    request: Request,
    response: Response,
    definition_id: DefinitionId,
    body: RetireReport,
    principal: Annotated[Principal, Depends(permissions.require("statistics.reports.define"))],
    now: Annotated[datetime, Depends(report_clock)],
) -> DefinitionOut:
    """Retire a periodic report: it is published up to ``last_period`` (default: the last
    period closed now) and never after. ``If-Match``: the definition's version. Answers the
    definition as it now stands."""
    runtime: Runtime = request.app.state.runtime
    expect = seen(request)
    p = publications.c
    async with engine(request).connect() as conn:
        row = await _definition_row(conn, definition_id)
        if row is None or row.defined_by_agency != principal.agency:
            # Only the agency that defined a report retires it; to another it is missing.
            raise ApiError(404, "report_not_found", NOT_FOUND)
        latest = (
            await conn.execute(
                select(p.period_start, p.period_end, p.period)
                .where(p.definition_id == definition_id)
                .order_by(p.period_start.desc())
                .limit(1)
            )
        ).first()
    if row.site != runtime.settings.site:
        raise ApiError(
            409,
            "report_defined_elsewhere",
            Message(
                en=f"This report was defined at site {row.site}: retire it there.",
                fr=f"Ce rapport a été défini sur le site {row.site} : retirez-le là-bas.",
            ),
        )
    if row.retired_at is None:
        published = (
            Period(latest.period_start, latest.period_end, latest.period) if latest else None
        )
        owed = last_owed(body.last_period, row, local_day(now), published)
    else:
        # Perhaps a retry of this very retirement, decided on the definition as first seen:
        # the event store recognises it by its key; anything else is refused below.
        owed = row.last_period
    event = StatisticalReportRetired(
        definition_id=definition_id, reason=body.reason, retired_at=iso(now), last_period=owed
    )
    assert runtime.commands is not None
    try:
        outcome = await runtime.commands.execute(
            DEFINITION,
            definition_id,
            lambda state: retire(state, event, already_retired(row)),
            expect=expect,
            actor=actor_of(principal),
            key=command_key(request, principal),
        )
    except ConcurrencyConflict:
        async with engine(request).connect() as conn:
            current = await _definition_row(conn, definition_id)
        if current is not None and current.retired_at is not None:
            raise already_retired(current) from None
        raise
    tag(response, outcome.version)
    async with engine(request).connect() as conn:
        return DefinitionOut(**definition_answer(await _definition_row(conn, definition_id)))
