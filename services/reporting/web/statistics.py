"""The statistics API's indicator questions: the catalogue of what can be asked, and any
indicator's answer as JSON, CSV or a page with charts. Periodic reports are in
:mod:`.reports`."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from services.reporting.app.compute import (
    Problem,
    compute_answer,
    compute_availability,
    indicator_named,
    make_query,
    parse_day,
)
from services.reporting.domain.answer import answer_csv, availability_csv
from services.reporting.domain.catalogue import INDICATORS, describe_dimension, describe_indicator
from services.reporting.domain.dimensions import DIMENSIONS
from services.reporting.domain.periods import PERIOD_KINDS
from services.reporting.domain.query import MAX_CELLS, TooManyCells
from services.reporting.web import render
from services.reporting.web.answers import CatalogueOut, IndicatorAnswerOut, SuppressionOut
from services.reporting.web.http import (
    FORMATS,
    answer_format,
    caller_language,
    csv_response,
    engine,
    freshness_headers,
    invalid,
)
from services.reporting.web.permissions import permissions
from services.reporting.web.xlsx import workbook, xlsx_response
from shared.auth import Principal, Role
from shared.i18n import Message

# Two routers so that service.py can register the periodic reports between them: see there.
catalogue_router = APIRouter(prefix="/statistics", tags=["statistics"])
indicator_router = APIRouter(prefix="/statistics", tags=["statistics"])

RESERVED = ("from", "to", "period", "by", "format")


# -- the catalogue ----------------------------------------------------------------------------


@catalogue_router.get("")
async def catalogue(
    principal: Annotated[Principal, Depends(permissions.require("statistics.read"))],
) -> CatalogueOut:
    """Every indicator (labels in French and English, what it counts, the breakdowns and
    filters it allows) and every dimension with its codes."""
    return CatalogueOut(
        indicators=[describe_indicator(i) for i in INDICATORS.values()],
        dimensions=[describe_dimension(d) for d in DIMENSIONS.values() if d.code != "outcome"],
        periods=list(PERIOD_KINDS),
        suppression=SuppressionOut(
            applied_for="every role but auditor",
            threshold=5,
            exact_for_you=principal.has(Role.auditor),
        ),
    )


# -- indicators -------------------------------------------------------------------------------


def _query_parameters() -> list[dict[str, Any]]:
    """What an indicator question reads from its query string (the route reads it itself, as
    the filters depend on the indicator): declared so that a client knows, and so that
    anything else is refused (422) rather than guessed."""
    day = {"type": "string", "format": "date", "pattern": r"^\d{4}-\d{2}-\d{2}$"}
    dimensions = sorted(code for code in DIMENSIONS if code != "outcome")
    params: list[dict[str, Any]] = [
        {"name": "from", "in": "query", "description": "First day, included", "schema": day},
        {"name": "to", "in": "query", "description": "Last day, included", "schema": day},
        {"name": "period", "in": "query", "schema": {"type": "string", "enum": list(PERIOD_KINDS)}},
        {
            "name": "by",
            "in": "query",
            "description": "Up to three breakdowns (repeated or comma-separated)",
            "schema": {"type": "array", "items": {"type": "string", "enum": dimensions}},
            "style": "form",
            "explode": True,
        },
        {"name": "format", "in": "query", "schema": {"type": "string", "enum": list(FORMATS)}},
    ]
    for code in dimensions:
        if code in RESERVED:
            continue
        params.append(
            {
                "name": code,
                "in": "query",
                "description": f"Only these {code} codes (repeated or comma-separated); the "
                "indicator must allow the filter",
                "schema": {"type": "array", "items": {"type": "string", "maxLength": 200}},
                "style": "form",
                "explode": True,
            }
        )
    return params


@indicator_router.get(
    "/{indicator}",
    response_model=IndicatorAnswerOut,
    responses={
        200: {
            "content": {
                "text/csv": {},
                "text/html": {},
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {},
            }
        }
    },
    openapi_extra={"parameters": _query_parameters()},
)
async def indicator_answer(
    request: Request,
    indicator: Annotated[str, Path(min_length=1, max_length=100)],
    principal: Annotated[Principal, Depends(permissions.require("statistics.read"))],
) -> Response:
    """One indicator over a range of days (``from``, ``to``: YYYY-MM-DD, both included;
    default the current year), by ``period`` (day, month, quarter, year) and up to three
    ``by`` breakdowns; any dimension the indicator allows is a filter (``commune=...``,
    repeated or comma-separated). Every answer states how far the facts had read each
    stream. Small cells are suppressed for every role but auditors."""
    wanted = answer_format(request)
    params = request.query_params
    try:
        found = indicator_named(indicator)
        by = [v for raw in params.getlist("by") for v in raw.split(",") if v]
        filters: dict[str, list[str]] = {}
        for name, raw in params.multi_items():
            if name in RESERVED:
                continue
            if name not in DIMENSIONS or name == "outcome":
                raise invalid(
                    name,
                    Message(
                        en="Unknown parameter; expected from, to, period, by, format or a "
                        "dimension's code.",
                        fr="Paramètre inconnu ; attendu from, to, period, by, format ou le "
                        "code d'une dimension.",
                    ),
                )
            filters.setdefault(name, []).extend(v for v in raw.split(",") if v)
        query = make_query(
            found,
            start=parse_day(params.get("from"), "from"),
            end=parse_day(params.get("to"), "to"),
            period=params.get("period") or None,
            by=by,
            filters=filters,
        )
        async with engine(request).connect() as conn:
            if found.measure == "availability":
                answer = await compute_availability(conn, query)
            else:
                answer = await compute_answer(conn, query, protect=not principal.has(Role.auditor))
    except Problem as problem:
        raise invalid(problem.field, problem.message) from None
    except TooManyCells:
        raise invalid(
            "by",
            Message(
                en=f"The table would have more than {MAX_CELLS} cells: use fewer breakdowns, "
                "a longer period or filters.",
                fr=f"Le tableau dépasserait {MAX_CELLS} cases : utilisez moins de ventilations, "
                "une période plus longue ou des filtres.",
            ),
        ) from None
    lang = caller_language(request)
    if wanted == "xlsx":
        title = found.label.en if lang == "en" else found.label.fr
        content = await asyncio.to_thread(workbook, title, [answer], lang)
        return xlsx_response(content, found.code, answer)
    if wanted == "csv":
        text = (
            availability_csv(answer, lang)
            if found.measure == "availability"
            else answer_csv(answer, lang)
        )
        return csv_response(text, found.code, answer)
    if wanted == "html":
        title = found.label.en if lang == "en" else found.label.fr
        html = await asyncio.to_thread(render.page, title, [answer], lang)
        return HTMLResponse(html, headers=freshness_headers(answer))
    return JSONResponse(answer, headers=freshness_headers(answer))
