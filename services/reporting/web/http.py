"""What the statistics routes share of HTTP: the answer's format and language as the caller
asked, errors answered like any invalid request, and CSV downloads that keep the freshness
headers."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.i18n import Language, LocalisedValueError, Message, language
from shared.service import Runtime

FORMATS = ("json", "csv", "html", "xlsx")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def invalid(field: str, message: Message) -> RequestValidationError:
    """Answered like any invalid request: the field, and the reason in the caller's language."""
    return RequestValidationError(
        [
            {
                "type": "value_error",
                "loc": ("query", field),
                "msg": message.en,
                "input": None,
                "ctx": {"error": LocalisedValueError(message)},
            }
        ]
    )


def engine(request: Request) -> AsyncEngine:
    runtime: Runtime = request.app.state.runtime
    assert runtime.engine is not None
    return runtime.engine


def caller_language(request: Request) -> Language:
    return language(request.headers.get("accept-language"))


def answer_format(request: Request) -> str:
    asked = request.query_params.get("format")
    if asked is not None:
        if asked not in FORMATS:
            raise invalid(
                "format",
                Message(
                    en="Unknown format; expected json, csv, html or xlsx.",
                    fr="Format inconnu ; valeurs possibles : json, csv, html, xlsx.",
                ),
            )
        return asked
    accept = request.headers.get("accept", "")
    if "text/csv" in accept:
        return "csv"
    if XLSX in accept:
        return "xlsx"
    if "text/html" in accept:
        return "html"
    return "json"


def freshness_headers(answer: dict[str, Any]) -> dict[str, str]:
    fresh = answer.get("freshness") or {}
    streams = ";".join(
        f"{name}={info.get('last_seq', 0)}" for name, info in (fresh.get("streams") or {}).items()
    )
    return {"Relais-Freshness": streams, "Relais-Computed-At": str(fresh.get("computed_at", ""))}


def csv_response(text: str, filename: str, answer: dict[str, Any]) -> Response:
    return Response(
        # A byte order mark, so that spreadsheet programs read the accents right.
        "\ufeff" + text,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}.csv"',
            **freshness_headers(answer),
        },
    )
