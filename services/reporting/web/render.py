"""A readable page of one or more answers, in French or English: tables, and charts drawn by
matplotlib as SVG inside the page. Nothing is fetched from elsewhere (no script, font or
style sheet from a CDN), so the page works in a regional office that has lost its link, and
can be saved and sent as one file."""

from __future__ import annotations

import io
import re
import threading
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from services.reporting.domain.answer import (
    COLUMN_LABELS,
    HIDDEN,
    LEGEND,
    SMALL,
    TOTAL_LABEL,
    flat_lines,
    localised,
)
from shared.i18n import Language, Message

MAX_BARS = 40  # beyond this a chart is unreadable; the table still has every line
_render_lock = threading.Lock()  # matplotlib's settings are global to the process
_METADATA = re.compile(r"<metadata>.*?</metadata>\s*", re.DOTALL)

WORDS = {
    "freshness": Message(en="Facts read up to", fr="Faits lus jusqu'à"),
    "computed": Message(en="computed at", fr="calculé le"),
    "period": Message(en="Period", fr="Période"),
    "range": Message(en="From {start} to {end}", fr="Du {start} au {end}"),
    "by": Message(en="by", fr="par"),
    "published": Message(en="Published", fr="Publié le"),
    "due": Message(en="due", fr="échéance"),
    "on_time": Message(en="within its deadline", fr="dans le délai"),
    "late": Message(en="after its deadline", fr="après l'échéance"),
    "revised": Message(
        en="revised {day} (revision {revision})", fr="révisé le {day} (révision {revision})"
    ),
    "legend": Message(en="Hidden values", fr="Valeurs masquées"),
    "not_computed": Message(en="Not computed", fr="Non calculé"),
    "chart_cut": Message(
        en="The chart shows the first {n} lines; the table has them all.",
        fr="Le graphique montre les {n} premières lignes ; le tableau les contient toutes.",
    ),
    "offered": Message(en="Offered", fr="Offerts"),
    "expected": Message(en="Expected", fr="Attendus"),
    "missing": Message(en="Missing", fr="Manquants"),
    "hub": Message(en="Hub or unit", fr="Pôle ou unité"),
    "agency": Message(en="Agency", fr="Structure"),
    "offered_of": Message(en="Offered of expected", fr="Offerts sur attendus"),
}

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;margin:2rem auto;
max-width:70rem;padding:0 1rem;color:#1d2733;line-height:1.4}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2.2rem}
.meta{color:#52606d;font-size:.9rem}.chart svg{max-width:100%;height:auto}
table{border-collapse:collapse;margin:.8rem 0;font-size:.9rem}
th,td{border:1px solid #cbd2d9;padding:.25rem .6rem;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}tr.total td{font-weight:600}
.hidden{color:#8a4b08}.error{color:#a61b1b}
"""


def w(key: str, lang: Language, **values: Any) -> str:
    message = WORDS[key].format(**values) if values else WORDS[key]
    return message.en if lang == "en" else message.fr


def _m(message: Message, lang: Language) -> str:
    return message.en if lang == "en" else message.fr


def page(
    title: str,
    answers: Sequence[Mapping[str, Any]],
    lang: Language,
    *,
    subtitle: str = "",
) -> str:
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="{lang}"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
    ]
    if subtitle:
        parts.append(f'<p class="meta">{escape(subtitle)}</p>')
    if answers:
        parts.append(_freshness(answers[0], lang))
    if any(a.get("suppression", {}).get("applied") for a in answers):
        legend = LEGEND
        parts.append(
            f'<p class="meta">{escape(w("legend", lang))}: '
            + "; ".join(
                f'<span class="hidden">{escape(k)}</span> {escape(_m(m, lang))}'
                for k, m in legend.items()
            )
            + "</p>"
        )
    for answer in answers:
        parts.append(section(answer, lang, heading=len(answers) > 1))
    parts.append("</body></html>")
    return "\n".join(parts)


def _freshness(answer: Mapping[str, Any], lang: Language) -> str:
    fresh = answer.get("freshness") or {}
    streams = ", ".join(
        f"{name} #{info.get('last_seq', 0)}" for name, info in (fresh.get("streams") or {}).items()
    )
    computed = fresh.get("computed_at") or ""
    return (
        f'<p class="meta">{escape(w("freshness", lang))}: {escape(streams)} — '
        f"{escape(w('computed', lang))} {escape(computed)}</p>"
    )


def section(answer: Mapping[str, Any], lang: Language, *, heading: bool = True) -> str:
    indicator = answer.get("indicator", {})
    name = localised(indicator.get("label"), lang) or str(indicator.get("code", ""))
    out = ["<section>", f"<h2>{escape(name)}</h2>" if heading else ""]
    if "error" in answer:
        out.append(
            f'<p class="error">{escape(w("not_computed", lang))}: '
            f"{escape(localised(answer['error'], lang))}</p></section>"
        )
        return "\n".join(out)
    query = answer.get("query", {})
    if "from" in query:
        what = w("range", lang, start=query["from"], end=query["to"])
        breakdowns = [localised(d["label"], lang) for d in answer.get("dimensions", [])]
        if breakdowns:
            what += f" — {w('by', lang)} {', '.join(breakdowns).lower()}"
        out.append(f'<p class="meta">{escape(what)}</p>')
    if indicator.get("measure") == "availability":
        out.append(_availability(answer, lang))
        out.append("</section>")
        return "\n".join(out)
    out.append(f'<div class="chart">{chart_svg(answer, lang)}</div>')
    out.append(_table(answer, lang))
    out.append("</section>")
    return "\n".join(out)


def _table(answer: Mapping[str, Any], lang: Language) -> str:
    _, lines = flat_lines(answer, lang)
    dims = [d["code"] for d in answer["dimensions"]]
    labels = [localised(d["label"], lang) for d in answer["dimensions"]]
    columns = answer["columns"]
    value_label = localised(answer["indicator"].get("value_label"), lang)

    def column_label(column: str) -> str:
        if column == "numerator" and value_label:
            return value_label.capitalize()
        return _m(COLUMN_LABELS[column], lang)

    head = "".join(f"<th>{escape(h)}</th>" for h in labels) + "".join(
        f"<th>{escape(column_label(c))}</th>" for c in columns
    )
    body = []
    for line in lines:
        names = [line[2 * i + 1] for i in range(len(dims))]
        values = line[2 * len(dims) :]
        total = any(line[2 * i] == "total" for i in range(len(dims))) or not dims
        cells = "".join(f"<td>{escape(str(n))}</td>" for n in names)
        for column, value in zip(columns, values, strict=True):
            cells += _value_cell(column, value)
        body.append(f'<tr class="total">{cells}</tr>' if total else f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _value_cell(column: str, value: Any) -> str:
    if value in (SMALL, HIDDEN):
        return f'<td class="n hidden">{escape(str(value))}</td>'
    if column == "share" and isinstance(value, int | float):
        return f'<td class="n">{value * 100:.1f} %</td>'
    return f'<td class="n">{escape(str(value))}</td>'


def _availability(answer: Mapping[str, Any], lang: Language) -> str:
    labels = answer.get("labels", {})

    def label(dim: str, code: str) -> str:
        return localised(labels.get(dim, {}).get(code), lang) or code

    rows = []
    for item in answer["items"]:
        missing = ", ".join(label("service_kind", k) for k in item["missing_kinds"])
        rows.append(
            f"<tr><td>{escape(item['name'])}</td><td>{escape(label('agency', item['agency']))}</td>"
            f'<td class="n">{escape(localised(item["display"], lang))}</td>'
            f"<td>{escape(missing)}</td></tr>"
        )
    head = "".join(
        f"<th>{escape(w(key, lang))}</th>" for key in ("hub", "agency", "offered_of", "missing")
    )
    chart = _availability_chart(answer, lang)
    body = "".join(rows)
    return (
        f'<div class="chart">{chart}</div>'
        f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


# -- charts -----------------------------------------------------------------------------------


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _series(answer: Mapping[str, Any], lang: Language) -> tuple[list[str], dict[str, list[Any]]]:
    """Categories (one per row of the chart) and, per series, the value of each category
    (a number, or the marker of a hidden value)."""
    measure = answer["indicator"]["measure"]
    dims = [d["code"] for d in answer["dimensions"]]
    labels = answer["labels"]

    def name(entry: Mapping[str, Any], keys: Sequence[str]) -> str:
        return " · ".join(
            localised(labels.get(k, {}).get(str(entry.get(k))), lang) or str(entry.get(k))
            for k in keys
        )

    value_key = {"count": "value", "share": "share"}.get(measure, "median")
    if measure == "share":
        entries = answer["rows"] or [answer["total"]]
        categories = [name(e, dims) or _m(TOTAL_LABEL, lang) for e in entries]
        values = [
            e["share"] * 100 if e.get("share") is not None else e.get("numerator") for e in entries
        ]
        return categories, {"": values}
    if len(dims) <= 1:
        entries = answer["rows"] or [answer["total"]]
        key = "value" if measure == "count" else value_key
        return [name(e, dims) or _m(TOTAL_LABEL, lang) for e in entries], {
            "": [e.get(key) if e.get(key) is not None else e.get("count") for e in entries]
        }
    row_dims, column_dim = dims[:-1], dims[-1]
    grouped: list[str] = []
    series: dict[str, list[Any]] = {}
    for entry in answer["rows"]:
        category = name(entry, row_dims)
        if category not in grouped:
            grouped.append(category)
        column = name(entry, [column_dim])
        values = series.setdefault(column, [])
        value = entry.get(value_key)
        values.append(value if value is not None else entry.get("count"))
    return grouped, series


def chart_svg(answer: Mapping[str, Any], lang: Language) -> str:
    categories, series = _series(answer, lang)
    if not categories or not any(_number(v) for values in series.values() for v in values):
        return ""  # nothing to draw: every value is hidden or zero
    note = ""
    if len(categories) > MAX_BARS:
        categories = categories[:MAX_BARS]
        series = {k: v[:MAX_BARS] for k, v in series.items()}
        note = f'<p class="meta">{escape(w("chart_cut", lang, n=MAX_BARS))}</p>'
    measure = answer["indicator"]["measure"]
    unit = localised(answer["indicator"].get("unit"), lang)
    if measure == "share":
        unit = "%"
    elif measure in ("duration", "distribution"):
        unit = (
            localised(answer["indicator"].get("value_label"), lang)
            + " ("
            + _m(COLUMN_LABELS["median"], lang).lower()
            + ")"
        )
    return _bars(categories, series, unit) + note


def _bars(categories: list[str], series: Mapping[str, list[Any]], unit: str) -> str:
    from matplotlib import rc_context
    from matplotlib.figure import Figure

    count = len(categories)
    width = 0.8 / max(1, len(series))
    with (
        _render_lock,
        rc_context({"svg.fonttype": "none", "svg.hashsalt": "relais", "text.parse_math": False}),
    ):
        figure = Figure(figsize=(9, max(2.2, 0.32 * count * max(1, len(series)) ** 0.5 + 1)))
        axes = figure.add_subplot()
        for index, (label, values) in enumerate(series.items()):
            offsets = [i + (index - (len(series) - 1) / 2) * width for i in range(count)]
            numbers = [_number(v) or 0.0 for v in values]
            bars = axes.barh(offsets, numbers, height=width, label=label or None)
            for bar, raw in zip(bars, values, strict=True):
                if raw in (SMALL, HIDDEN):  # hidden: no bar, the marker where it would be
                    axes.annotate(
                        str(raw),
                        (0, bar.get_y() + bar.get_height() / 2),
                        xytext=(3, 0),
                        textcoords="offset points",
                        va="center",
                        fontsize=8,
                        color="#8a4b08",
                    )
        axes.set_yticks(range(count), categories, fontsize=8)
        axes.invert_yaxis()
        axes.set_xlim(left=0)
        axes.set_xlabel(unit)
        axes.spines[["top", "right"]].set_visible(False)
        if len(series) > 1:
            axes.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1))
        figure.tight_layout()
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    svg = buffer.getvalue()
    # The drawing only: no XML prolog, and no RDF block naming matplotlib's web site.
    return _METADATA.sub("", svg[svg.index("<svg") :])


def _availability_chart(answer: Mapping[str, Any], lang: Language) -> str:
    items = answer["items"][:MAX_BARS]
    if not items:
        return ""
    categories = [str(i["name"]) for i in items]
    series = {
        w("offered", lang): [i["offered"] for i in items],
        w("expected", lang): [i["expected"] for i in items],
    }
    return _bars(categories, series, localised(answer["indicator"].get("unit"), lang) or "")
