"""The statistics API's periodic reports: defining one, listing the definitions with their
status and publications, and a publication as JSON, CSV or a page with charts, as its latest
revision shows it. Retiring a definition is in :mod:`.retirement`."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ConfigDict, Field, field_validator
from sqlalchemy import select

from contracts.reporting import ReportItem, StatisticalReportDefined
from services.reporting.app.aggregates import DEFINITION
from services.reporting.app.compute import (
    Problem,
    check_directory_codes,
    indicator_named,
    make_query,
)
from services.reporting.app.report_tables import iso
from services.reporting.app.reports import finer
from services.reporting.domain.answer import answer_csv
from services.reporting.domain.periods import local_day, parse_period, period_of
from services.reporting.read.publications import definitions, publications, revisions
from services.reporting.web import render
from services.reporting.web.answers import (
    DefinitionListOut,
    DefinitionOut,
    DefinitionWithPublicationsOut,
    PublicationOut,
    PublishedReportOut,
    RevisionOut,
)
from services.reporting.web.http import (
    FORMATS,
    answer_format,
    caller_language,
    csv_response,
    engine,
    invalid,
)
from services.reporting.web.permissions import permissions
from services.reporting.web.xlsx import workbook, xlsx_response
from shared.auth import Principal
from shared.command_http import actor_of, command_key, new_aggregate_id, tag
from shared.commands import Expect
from shared.http import ApiError
from shared.i18n import Language, LocalisedValueError, Message
from shared.service import Runtime
from shared.validation import JsonBody

router = APIRouter(prefix="/statistics", tags=["statistics"])

NOT_FOUND = Message(en="No such statistical report.", fr="Aucun rapport statistique de ce nom.")
NOT_PUBLISHED = Message(
    en="This report has not been published for that period.",
    fr="Ce rapport n'a pas été publié pour cette période.",
)


class DefineReport(JsonBody):
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
                indicator = indicator_named(item.indicator)
                if indicator.measure == "availability":
                    # A snapshot of now, not a count over the period: a report would show
                    # whatever held on the day it was published, and revise on every change.
                    raise LocalisedValueError(
                        Message(
                            en=f"{item.indicator}: this indicator shows services available "
                            "now, not a count over a period: ask GET /statistics for it.",
                            fr=f"{item.indicator} : cet indicateur montre les services "
                            "disponibles maintenant, pas un effectif sur une période : "
                            "interrogez GET /statistics.",
                        )
                    )
                make_query(
                    indicator,
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


def report_clock() -> datetime:
    """A FastAPI dependency: the time a command is taken at (tests override it)."""
    return datetime.now(UTC)


def _iso(moment: datetime | None) -> str | None:
    return iso(moment) if moment is not None else None


def definition_answer(row: Any) -> dict[str, Any]:
    return {
        "definition_id": row.definition_id,
        "title": {"en": row.title_en, "fr": row.title_fr},
        "items": row.items,
        "period_kind": row.period_kind,
        "due_days": row.due_days,
        "first_period": row.first_period,
        "defined_at": row.defined_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "defined_by_agency": row.defined_by_agency,
        "status": "active" if row.retired_at is None else "retired",
        "retired_at": _iso(row.retired_at),
        "retirement_reason": row.retirement_reason,
        # Once retired, the last period still owed (None: none was).
        "last_period": row.last_period,
        "version": int(row.last_seq),
    }


def _publication(row: Any) -> dict[str, Any]:
    return {
        "report_id": row.report_id,
        "definition_id": row.definition_id,
        "period": row.period,
        "period_start": row.period_start.isoformat(),
        "period_end": row.period_end.isoformat(),
        "published_at": row.published_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "due_at": row.due_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "within_deadline": row.within_deadline,
        "revision": row.revision,
        "revised_at": _iso(row.revised_at),
    }


@router.post("/reports", status_code=201)
async def define_report(
    request: Request,
    body: DefineReport,
    principal: Annotated[Principal, Depends(permissions.require("statistics.reports.define"))],
    now: Annotated[datetime, Depends(report_clock)],
    response: Response,
) -> DefinitionOut:
    """Define a periodic report: it is published, small cells suppressed, once each period
    has closed; ``due_days`` after the period's end is its deadline."""
    runtime: Runtime = request.app.state.runtime
    today = local_day(now)
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
    key = command_key(request, principal)
    definition_id = new_aggregate_id(key, "statistical-definition")
    event = StatisticalReportDefined(
        definition_id=definition_id,
        title_en=body.title_en,
        title_fr=body.title_fr,
        items=body.items,
        period_kind=body.period_kind,
        due_days=body.due_days,
        first_period=first.key,
    )
    assert runtime.commands is not None
    outcome = await runtime.commands.execute(
        DEFINITION,
        definition_id,
        lambda _: [event],
        expect=Expect.new(),
        actor=actor_of(principal),
        key=key,
    )
    async with engine(request).connect() as conn:
        row = (
            await conn.execute(
                select(definitions).where(definitions.c.definition_id == definition_id)
            )
        ).one()
    tag(response, outcome.version)
    return DefinitionOut(**definition_answer(row))


@router.get("/reports")
async def list_reports(
    request: Request,
    principal: Annotated[Principal, Depends(permissions.require("statistics.reports.read"))],
) -> DefinitionListOut:
    """Every report definition, with its publications (without their tables)."""
    async with engine(request).connect() as conn:
        rows = (await conn.execute(select(definitions).order_by(definitions.c.defined_at))).all()
        published = (
            await conn.execute(select(publications).order_by(publications.c.period_start))
        ).all()
    return DefinitionListOut(
        items=[
            DefinitionWithPublicationsOut(
                **definition_answer(row),
                publications=[
                    PublicationOut(**_publication(p))
                    for p in published
                    if p.definition_id == row.definition_id
                ],
            )
            for row in rows
        ]
    )


DefinitionId = Annotated[str, Path(min_length=1, max_length=100)]
PeriodKey = Annotated[str, Path(min_length=4, max_length=10)]


@router.get(
    "/reports/{definition_id}/{period}",
    response_model=PublishedReportOut,
    responses={200: {"content": {"text/csv": {}, "text/html": {}}}},
    openapi_extra={
        "parameters": [
            {"name": "format", "in": "query", "schema": {"type": "string", "enum": list(FORMATS)}}
        ]
    },
)
async def published_report(
    request: Request,
    definition_id: DefinitionId,
    period: PeriodKey,
    principal: Annotated[Principal, Depends(permissions.require("statistics.reports.read"))],
) -> PublishedReportOut | Response:
    """A report as published for a period, with the tables of its latest revision: JSON, CSV
    (``format=csv`` or ``Accept: text/csv``) or a page with charts (``format=html`` or
    ``Accept: text/html``), in French or English. ``published_at`` and ``within_deadline``
    stay those of the first publication; a revised CSV or page says so on its first line."""
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
        r = revisions.c
        revised = (
            await conn.execute(
                select(r.revision, r.revised_at, r.changes)
                .where(r.report_id == row.report_id)
                .order_by(r.revision)
            )
        ).all()
        # What a reader gets is the latest figures; the publication's time and deadline stay.
        latest = (
            await conn.execute(
                select(r.tables).where(r.report_id == row.report_id, r.revision == row.revision)
            )
        ).scalar()
    lang = caller_language(request)
    tables: list[dict[str, Any]] = list(latest if latest is not None else row.tables)
    if wanted == "json":
        return PublishedReportOut(
            definition=DefinitionOut(**definition_answer(definition)),
            **_publication(row),
            tables=tables,
            revisions=[
                RevisionOut(revision=v.revision, revised_at=_iso(v.revised_at), changes=v.changes)
                for v in revised
            ],
        )
    title = definition.title_en if lang == "en" else definition.title_fr
    first = tables[0] if tables else {}
    note = _revised_note(row, lang)
    if wanted == "xlsx":
        content = await asyncio.to_thread(workbook, title, tables, lang)
        name = f"{definition_id}-{period}" + (f"-r{row.revision}" if row.revision else "")
        return xlsx_response(content, name, first)
    if wanted == "csv":
        text = "".join(answer_csv(t, lang) + "\r\n" for t in tables if "error" not in t)
        if note:
            text = f"{_csv_line(note[:1].upper() + note[1:])}\r\n{text}"
        name = f"{definition_id}-{period}" + (f"-r{row.revision}" if row.revision else "")
        return csv_response(text, name, first)
    on_time = render.w("on_time" if row.within_deadline else "late", lang)
    shown = _publication(row)
    subtitle = (
        f"{render.w('period', lang)} {row.period} — {render.w('published', lang)} "
        f"{shown['published_at']} ({render.w('due', lang)} {shown['due_at']}, {on_time})"
        + (f" — {note}" if note else "")
    )
    # Drawing charts takes a moment of CPU: off the event loop.
    html = await asyncio.to_thread(render.page, title, tables, lang, subtitle=subtitle)
    return HTMLResponse(html)


def _revised_note(row: Any, lang: Language) -> str:
    """The note that the figures were revised, with the local day of the latest revision;
    nothing for a report as first published."""
    if not row.revision or row.revised_at is None:
        return ""
    day = local_day(row.revised_at).isoformat()
    return render.w("revised", lang, day=day, revision=row.revision)


def _csv_line(text: str) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow([text])
    return out.getvalue()
