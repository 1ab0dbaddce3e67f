"""The statistics API's periodic reports: defining one, listing the definitions with their
publications, and a publication as JSON, CSV or a page with charts."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select

from services.reporting.events import ReportItem, StatisticalReportDefined
from services.reporting.permissions import permissions
from services.reporting.statistics import render
from services.reporting.statistics.answer import answer_csv
from services.reporting.statistics.compute import (
    Problem,
    check_directory_codes,
    indicator_named,
    make_query,
)
from services.reporting.statistics.http import (
    answer_format,
    caller_language,
    csv_response,
    engine,
    invalid,
)
from services.reporting.statistics.periods import local_day, parse_period, period_of
from services.reporting.statistics.publications import definitions, publications
from services.reporting.statistics.reports import finer
from shared.auth import Principal
from shared.envelope import Actor, Aggregate
from shared.http import ApiError
from shared.i18n import LocalisedValueError, Message
from shared.ids import derived_id, new_id
from shared.service import Runtime

router = APIRouter(prefix="/statistics", tags=["statistics"])

NOT_FOUND = Message(en="No such statistical report.", fr="Aucun rapport statistique de ce nom.")
NOT_PUBLISHED = Message(
    en="This report has not been published for that period.",
    fr="Ce rapport n'a pas été publié pour cette période.",
)


class DefineReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title_en: str = Field(min_length=1, max_length=300)
    title_fr: str = Field(min_length=1, max_length=300)
    items: list[ReportItem] = Field(min_length=1, max_length=20)
    period_kind: Literal["month", "quarter", "year"]
    due_days: int = Field(ge=0, le=366)
    first_period: str | None = Field(
        default=None,
        description="Key of the first period to publish (e.g. 2026-Q1); default: the current one",
    )

    @field_validator("items")
    @classmethod
    def _items(cls, items: list[ReportItem]) -> list[ReportItem]:
        for item in items:
            try:
                make_query(
                    indicator_named(item.indicator),
                    start=None,
                    end=None,
                    period=item.period,
                    by=item.by,
                    filters=item.filters,
                )
            except Problem as problem:
                raise LocalisedValueError(
                    Message(
                        en=f"{item.indicator}: {problem.field}: {problem.message.en}",
                        fr=f"{item.indicator} : {problem.field} : {problem.message.fr}",
                    )
                ) from None
        return items


def _definition(row: Any) -> dict[str, Any]:
    return {
        "definition_id": row.definition_id,
        "title": {"en": row.title_en, "fr": row.title_fr},
        "items": row.items,
        "period_kind": row.period_kind,
        "due_days": row.due_days,
        "first_period": row.first_period,
        "defined_at": row.defined_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "defined_by_agency": row.defined_by_agency,
    }


def _publication(row: Any, *, with_tables: bool = False) -> dict[str, Any]:
    out = {
        "report_id": row.report_id,
        "definition_id": row.definition_id,
        "period": row.period,
        "period_start": row.period_start.isoformat(),
        "period_end": row.period_end.isoformat(),
        "published_at": row.published_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "due_at": row.due_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "within_deadline": row.within_deadline,
    }
    if with_tables:
        out["tables"] = row.tables
    return out


@router.post("/reports", status_code=201)
async def define_report(
    request: Request,
    body: DefineReport,
    principal: Annotated[Principal, Depends(permissions.require("statistics.reports.define"))],
) -> dict[str, Any]:
    """Define a periodic report: it is published, small cells suppressed, once each period
    has closed; ``due_days`` after the period's end is its deadline."""
    runtime: Runtime = request.app.state.runtime
    today = local_day(datetime.now(UTC))
    if body.first_period is None:
        first = period_of(today, body.period_kind)
    else:
        try:
            first = parse_period(body.first_period, body.period_kind)
        except ValueError:
            raise invalid(
                "first_period",
                Message(
                    en="Not a period of this kind (e.g. 2026-03, 2026-Q1 or 2026).",
                    fr="Pas une période de ce type (p. ex. 2026-03, 2026-Q1 ou 2026).",
                ),
            ) from None
    for index, item in enumerate(body.items):
        if item.period is not None and not finer(item.period, body.period_kind):
            raise invalid(
                f"items.{index}.period",
                Message(
                    en="A breakdown by period inside a report must be shorter than the "
                    "report's period.",
                    fr="Une ventilation par période dans un rapport doit être plus courte que "
                    "la période du rapport.",
                ),
            )
        query = make_query(
            indicator_named(item.indicator),
            start=None,
            end=None,
            period=None,
            by=(),
            filters=item.filters,
        )
        async with engine(request).connect() as conn:
            try:
                await check_directory_codes(conn, query)
            except Problem as problem:
                raise invalid(f"items.{index}.filters.{problem.field}", problem.message) from None
    key = request.headers.get("Idempotency-Key")
    definition_id = derived_id("statistical-definition", principal.agency, key) if key else new_id()
    event = StatisticalReportDefined(
        definition_id=definition_id,
        title_en=body.title_en,
        title_fr=body.title_fr,
        items=body.items,
        period_kind=body.period_kind,
        due_days=body.due_days,
        first_period=first.key,
    )
    await runtime.commit(
        Aggregate("audit", runtime.settings.site, "statdefinition", definition_id),
        0,
        [event],
        actor=Actor(user=principal.user, agency=principal.agency, role=principal.primary_role),
        idempotency_key=key,
    )
    async with engine(request).connect() as conn:
        row = (
            await conn.execute(
                select(definitions).where(definitions.c.definition_id == definition_id)
            )
        ).one()
    return _definition(row)


@router.get("/reports")
async def list_reports(
    request: Request,
    principal: Annotated[Principal, Depends(permissions.require("statistics.reports.read"))],
) -> dict[str, Any]:
    """Every report definition, with its publications (without their tables)."""
    async with engine(request).connect() as conn:
        rows = (await conn.execute(select(definitions).order_by(definitions.c.defined_at))).all()
        published = (
            await conn.execute(select(publications).order_by(publications.c.period_start))
        ).all()
    return {
        "items": [
            {
                **_definition(row),
                "publications": [
                    _publication(p) for p in published if p.definition_id == row.definition_id
                ],
            }
            for row in rows
        ]
    }


DefinitionId = Annotated[str, Path(min_length=1, max_length=100)]
PeriodKey = Annotated[str, Path(min_length=4, max_length=10)]


@router.get("/reports/{definition_id}/{period}", response_model=None)
async def published_report(
    request: Request,
    definition_id: DefinitionId,
    period: PeriodKey,
    principal: Annotated[Principal, Depends(permissions.require("statistics.reports.read"))],
) -> dict[str, Any] | Response:
    """A report as published for a period: JSON, CSV (``format=csv`` or ``Accept: text/csv``)
    or a page with charts (``format=html`` or ``Accept: text/html``), in French or English."""
    wanted = answer_format(request)
    async with engine(request).connect() as conn:
        definition = (
            await conn.execute(
                select(definitions).where(definitions.c.definition_id == definition_id)
            )
        ).first()
        if definition is None:
            raise ApiError(404, "report_not_found", NOT_FOUND)
        row = (
            await conn.execute(
                select(publications)
                .where(publications.c.definition_id == definition_id)
                .where(publications.c.period == period)
            )
        ).first()
    if row is None:
        raise ApiError(404, "report_not_published", NOT_PUBLISHED)
    lang = caller_language(request)
    tables: list[dict[str, Any]] = list(row.tables)
    if wanted == "json":
        return {"definition": _definition(definition), **_publication(row, with_tables=True)}
    title = definition.title_en if lang == "en" else definition.title_fr
    first = tables[0] if tables else {}
    if wanted == "csv":
        text = "".join(answer_csv(t, lang) + "\r\n" for t in tables if "error" not in t)
        return csv_response(text, f"{definition_id}-{period}", first)
    on_time = render.w("on_time" if row.within_deadline else "late", lang)
    subtitle = (
        f"{render.w('period', lang)} {row.period} — {render.w('published', lang)} "
        f"{_publication(row)['published_at']} ({render.w('due', lang)} "
        f"{_publication(row)['due_at']}, {on_time})"
    )
    # Drawing charts takes a moment of CPU: off the event loop.
    html = await asyncio.to_thread(render.page, title, tables, lang, subtitle=subtitle)
    return HTMLResponse(html)
