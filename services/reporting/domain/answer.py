"""An indicator's answer: its table, suppressed for the caller, as a JSON document that says
what was asked, what each code means in French and English, what is hidden and how fresh
the facts are; and the same document as CSV. Pure functions: the API answers with them, and
a published report stores their output as it was."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from typing import Any

from services.reporting.domain.catalogue import message_dict
from services.reporting.domain.dimensions import DIMENSIONS
from services.reporting.domain.indicator import Indicator
from services.reporting.domain.query import MET, OUTCOME, Cell, Query, Table
from services.reporting.domain.suppression import (
    PRIMARY,
    PUBLISHED,
    THRESHOLD,
    Status,
    hidden_count,
    suppress,
)
from shared.i18n import Language, Message

SMALL, HIDDEN = "<5", "x"
LEGEND = {
    SMALL: Message(
        en="Fewer than 5 (0 to 4): hidden so that no child can be recognised.",
        fr="Moins de 5 (0 à 4) : masqué pour qu'aucun enfant ne puisse être reconnu.",
    ),
    HIDDEN: Message(
        en="5 or more, hidden so that a small count cannot be worked out from the totals.",
        fr="5 ou plus, masqué pour qu'un petit effectif ne puisse être déduit des totaux.",
    ),
}
TOTAL = "total"
TOTAL_LABEL = Message(en="Total", fr="Total")
# The columns of each kind of measure, in CSV and HTML order.
MEASURE_COLUMNS: dict[str, tuple[str, ...]] = {
    "count": ("value",),
    "share": ("numerator", "denominator", "share"),
    "duration": ("count", "median", "mean", "p90"),
    "distribution": ("count", "mean", "median", "max"),
}
COLUMN_LABELS = {
    "value": Message(en="Count", fr="Effectif"),
    "numerator": Message(en="Yes", fr="Oui"),
    "denominator": Message(en="All", fr="Ensemble"),
    "share": Message(en="Share", fr="Part"),
    "count": Message(en="Number", fr="Nombre"),
    "median": Message(en="Median", fr="Médiane"),
    "mean": Message(en="Mean", fr="Moyenne"),
    "p90": Message(en="90th percentile", fr="90e centile"),
    "max": Message(en="Largest", fr="Maximum"),
}


def statuses_for(table: Table, protect: bool) -> list[list[Status]]:
    grid = table.grid()
    if not protect:
        return [[PUBLISHED for _ in line] for line in grid]
    return suppress(grid, THRESHOLD)


def shown(count: int, status: Status) -> int | str:
    if status == PUBLISHED:
        return count
    return SMALL if status == PRIMARY else HIDDEN


def _measures(indicator: Indicator, cell: Cell, status: Status) -> dict[str, Any]:
    if indicator.measure == "count":
        return {"value": shown(cell.count, status)}
    stats = cell.stats() if status == PUBLISHED else {}
    names = MEASURE_COLUMNS[indicator.measure][1:]
    return {"count": shown(cell.count, status), **{n: stats.get(n) for n in names}}


def _share(numerator: Cell, n_status: Status, all_: Cell, a_status: Status) -> dict[str, Any]:
    share = None
    if n_status == PUBLISHED and a_status == PUBLISHED and all_.count:
        share = round(numerator.count / all_.count, 4)
    return {
        "numerator": shown(numerator.count, n_status),
        "denominator": shown(all_.count, a_status),
        "share": share,
    }


def build_answer(
    query: Query,
    table: Table,
    statuses: list[list[Status]],
    *,
    labels: Mapping[str, Mapping[str, Message]],
    freshness: Mapping[str, Any],
    protected: bool,
) -> dict[str, Any]:
    indicator = query.indicator
    dims = table.dims
    rows_n, columns_n = len(table.rows), len(table.columns)

    def keys(row: int, column: int | None) -> dict[str, str]:
        out = dict(zip(dims[:-1], table.rows[row], strict=True)) if dims else {}
        if dims and column is not None:
            out[dims[-1]] = table.columns[column]
        return out

    answer_rows: list[dict[str, Any]] = []
    row_totals: list[dict[str, Any]] = []
    column_totals: list[dict[str, Any]] = []
    if indicator.measure == "share":
        met = table.columns.index(MET)
        if len(dims) > 1:
            for r in range(rows_n):
                answer_rows.append(
                    keys(r, None)
                    | _share(
                        table.cell(r, met),
                        statuses[r][met],
                        table.row_totals[r],
                        statuses[r][columns_n],
                    )
                )
        total = _share(
            table.column_totals[met],
            statuses[rows_n][met],
            table.total,
            statuses[rows_n][columns_n],
        )
    else:
        if dims:
            for r in range(rows_n):
                for c in range(columns_n):
                    answer_rows.append(
                        keys(r, c) | _measures(indicator, table.cell(r, c), statuses[r][c])
                    )
        if len(dims) > 1:
            for r in range(rows_n):
                row_totals.append(
                    keys(r, None)
                    | _measures(indicator, table.row_totals[r], statuses[r][columns_n])
                )
            for c in range(columns_n):
                column_totals.append(
                    {dims[-1]: table.columns[c]}
                    | _measures(indicator, table.column_totals[c], statuses[rows_n][c])
                )
        total = _measures(indicator, table.total, statuses[rows_n][columns_n])
    shown_dims = [d for d in dims if d != OUTCOME]
    used = {
        d: {str(row[d]) for row in (*answer_rows, *row_totals, *column_totals) if d in row}
        for d in shown_dims
    }
    return {
        "indicator": {
            "code": indicator.code,
            "label": message_dict(indicator.label),
            "unit": message_dict(indicator.unit),
            "measure": indicator.measure,
            "value_label": message_dict(indicator.value_label) if indicator.value_label else None,
        },
        "query": {
            "from": query.start.isoformat(),
            "to": query.end.isoformat(),
            "period": query.period,
            "by": list(query.by),
            "filters": {k: sorted(v) for k, v in sorted(query.filters.items())},
        },
        "dimensions": [{"code": d, "label": message_dict(DIMENSIONS[d].label)} for d in shown_dims],
        "columns": list(MEASURE_COLUMNS[indicator.measure]),
        "rows": answer_rows,
        "row_totals": row_totals,
        "column_totals": column_totals,
        "total": total,
        "labels": {
            d: {
                code: message_dict(labels.get(d, {}).get(code, Message(en=code, fr=code)))
                for code in sorted(used[d])
            }
            for d in shown_dims
        },
        "suppression": {
            "applied": protected,
            "threshold": THRESHOLD,
            "hidden": hidden_count(statuses),
            "legend": {k: message_dict(m) for k, m in LEGEND.items()} if protected else {},
        },
        "freshness": dict(freshness),
    }


def localised(value: Mapping[str, str] | None, lang: Language) -> str:
    return "" if value is None else value.get(lang) or value.get("en") or ""


def flat_lines(answer: Mapping[str, Any], lang: Language) -> tuple[list[str], list[list[Any]]]:
    """The answer as one table: a code and a label column per dimension, then its measures;
    totals come last with ``total`` in the dimensions they add over."""
    dims = [d["code"] for d in answer["dimensions"]]
    columns = list(answer["columns"])
    labels = answer["labels"]
    header = [h for d in dims for h in (d, f"{d}_label")] + columns
    total_label = TOTAL_LABEL.en if lang == "en" else TOTAL_LABEL.fr

    def line(entry: Mapping[str, Any]) -> list[Any]:
        out: list[Any] = []
        for d in dims:
            code = entry.get(d)
            if code is None:
                out += [TOTAL, total_label]
            else:
                out += [code, localised(labels.get(d, {}).get(str(code)), lang) or code]
        return out + [_cell(entry.get(c)) for c in columns]

    lines = [line(e) for e in answer["rows"]]
    lines += [line(e) for e in answer["row_totals"]]
    lines += [line(e) for e in answer["column_totals"]]
    if dims or answer["total"]:
        lines.append(line(answer["total"]))
    return header, lines


def _cell(value: Any) -> Any:
    return "" if value is None else value


def answer_csv(answer: Mapping[str, Any], lang: Language) -> str:
    header, lines = flat_lines(answer, lang)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(lines)
    return out.getvalue()


def availability_csv(answer: Mapping[str, Any], lang: Language) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(
        ["hub", "name", "agency", "department", "commune", "offered", "expected", "missing_kinds"]
    )
    for item in answer["items"]:
        writer.writerow(
            [
                item["hub"],
                item["name"],
                item["agency"],
                item["department"],
                item["commune"],
                item["offered"],
                item["expected"],
                " ".join(item["missing_kinds"]),
            ]
        )
    return out.getvalue()
