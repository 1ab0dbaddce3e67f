"""Answers as an XLSX workbook (openpyxl), the same figures as the JSON answer: suppressed
cells stay ``<5`` or ``x`` (text), every other figure is a number. A first sheet says what was
asked, how far the facts had read each stream, and what the hidden values mean."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi.responses import Response
from openpyxl import Workbook
from openpyxl.styles import Font

from services.reporting.domain.answer import LEGEND, availability_csv, flat_lines, localised
from services.reporting.web.http import freshness_headers
from services.reporting.web.render import w
from shared.i18n import Language

MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")


def _sheet_name(text: str, taken: set[str]) -> str:
    base = _BAD_SHEET_CHARS.sub(" ", text)[:28] or "table"
    name, n = base, 2
    while name in taken:
        name, n = f"{base[:25]} {n}", n + 1
    taken.add(name)
    return name


def _lines(answer: Mapping[str, Any], lang: Language) -> tuple[list[str], list[list[Any]]]:
    if answer.get("indicator", {}).get("measure") == "availability":
        rows = list(csv.reader(io.StringIO(availability_csv(answer, lang))))
        return rows[0], [[int(v) if v.isdigit() else v for v in r] for r in rows[1:]]
    return flat_lines(answer, lang)


def workbook(title: str, answers: Sequence[Mapping[str, Any]], lang: Language) -> bytes:
    book = Workbook()
    about = book.active
    assert about is not None
    taken: set[str] = set()
    about.title = _sheet_name("Relais", taken)
    bold = Font(bold=True)
    about.append([title])
    about["A1"].font = bold
    if answers:
        fresh = answers[0].get("freshness") or {}
        about.append([w("freshness", lang)])
        for stream, info in sorted((fresh.get("streams") or {}).items()):
            about.append([stream, int(info.get("last_seq", 0))])
        about.append([w("computed", lang), str(fresh.get("computed_at") or "")])
    if any(a.get("suppression", {}).get("applied") for a in answers):
        about.append([w("legend", lang)])
        for mark, message in LEGEND.items():
            about.append([mark, message.en if lang == "en" else message.fr])
    for answer in answers:
        indicator = answer.get("indicator", {})
        name = localised(indicator.get("label"), lang) or str(indicator.get("code", "table"))
        sheet = book.create_sheet(_sheet_name(name, taken))
        if "error" in answer:
            sheet.append([w("not_computed", lang), localised(answer["error"], lang)])
            continue
        query = answer.get("query", {})
        if "from" in query:
            sheet.append([name, w("range", lang, start=query["from"], end=query["to"])])
        header, lines = _lines(answer, lang)
        sheet.append(header)
        for cell in sheet[sheet.max_row]:
            cell.font = bold
        for line in lines:
            sheet.append(line)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def xlsx_response(content: bytes, filename: str, answer: Mapping[str, Any]) -> Response:
    return Response(
        content,
        media_type=MEDIA_TYPE,
        headers={
            "Content-Disposition": f'attachment; filename="{filename}.xlsx"',
            **freshness_headers(dict(answer)),
        },
    )
