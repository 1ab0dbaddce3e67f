"""An indicator's answer from reporting, as the statistics screen shows it: one table (a line
per cell, totals last), the suppressed cells as reporting marks them (``<5``, ``x``) with its
legend, and a bar chart drawn as inline SVG (no script, no library) with the same figures."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from html import escape
from typing import Any

from services.portal.web import i18n

HIDDEN_MARKS = ("<5", "x")
MAX_BARS = 24


@dataclass(frozen=True)
class Line:
    labels: list[str]
    values: list[Any]
    total: bool


def _text(value: Mapping[str, str] | None) -> str:
    if not value:
        return ""
    return value.get(i18n.current_language.get()) or value.get("fr") or value.get("en") or ""


def localised(value: Any) -> str:
    return _text(value) if isinstance(value, Mapping) else str(value or "")


def lines(answer: Mapping[str, Any]) -> tuple[list[str], list[Line]]:
    """The header (dimension labels, then measure labels) and the lines."""
    dims = [d["code"] for d in answer.get("dimensions", [])]
    columns = list(answer.get("columns", []))
    labels = answer.get("labels", {})
    header = [_text(d.get("label")) for d in answer.get("dimensions", [])] + [
        column_label(c, answer) for c in columns
    ]

    def line(entry: Mapping[str, Any], total: bool) -> Line:
        names = []
        for d in dims:
            code = entry.get(d)
            names.append(
                i18n._("Total")
                if code is None
                else _text(labels.get(d, {}).get(str(code))) or str(code)
            )
        return Line(names, [entry.get(c) for c in columns], total)

    out = [line(e, False) for e in answer.get("rows", [])]
    out += [line(e, True) for e in answer.get("row_totals", [])]
    out += [line(e, True) for e in answer.get("column_totals", [])]
    if answer.get("total"):
        out.append(line(answer["total"], True))
    return header, out


def column_label(code: str, answer: Mapping[str, Any]) -> str:
    names = {
        "value": i18n._("Count"),
        "numerator": i18n._("Yes"),
        "denominator": i18n._("All"),
        "share": i18n._("Share"),
        "count": i18n._("Number"),
        "median": i18n._("Median"),
        "mean": i18n._("Mean"),
        "p90": i18n._("90th percentile"),
        "max": i18n._("Largest"),
    }
    return names.get(code, code)


def shown(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.1%}" if value <= 1 else f"{value:.1f}"
    return str(value)


def chart_svg(answer: Mapping[str, Any]) -> str:
    """Horizontal bars of the first measure, one per line but the totals; a suppressed cell
    is an empty outlined bar labelled with its mark."""
    _header, found = lines(answer)
    bars = [ln for ln in found if not ln.total and ln.labels][:MAX_BARS]
    if not bars:
        return ""
    first = "share" if "share" in answer.get("columns", []) else None
    index = answer.get("columns", []).index(first) if first else 0
    numbers = [b.values[index] for b in bars]
    top = max((v for v in numbers if isinstance(v, int | float)), default=0) or 1
    row_h, label_w, width = 26, 150, 340
    bar_w = width - label_w - 50
    height = row_h * len(bars) + 10
    title = i18n._("Chart of the table below")
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'role="img" aria-labelledby="chart-title" class="chart">',
        f'<title id="chart-title">{escape(title)}</title>',
    ]
    for i, (bar, value) in enumerate(zip(bars, numbers, strict=True)):
        y = 5 + i * row_h
        name = " · ".join(bar.labels)
        short = name if len(name) <= 22 else name[:21] + "…"
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 17}" text-anchor="end" class="c-label">'
            f"{escape(short)}</text>"
        )
        if isinstance(value, int | float):
            w = max(1, round(bar_w * value / top))
            parts.append(
                f'<rect x="{label_w}" y="{y + 4}" width="{w}" height="{row_h - 8}" class="c-bar"/>'
            )
            parts.append(
                f'<text x="{label_w + w + 4}" y="{y + 17}" class="c-value">'
                f"{escape(shown(value))}</text>"
            )
        else:
            parts.append(
                f'<rect x="{label_w}" y="{y + 4}" width="24" height="{row_h - 8}" '
                'class="c-hidden"/>'
            )
            parts.append(
                f'<text x="{label_w + 30}" y="{y + 17}" class="c-value">'
                f"{escape(shown(value))}</text>"
            )
    parts.append("</svg>")
    return "".join(parts)
