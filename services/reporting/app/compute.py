"""Answering a statistical question: check it, load its facts, aggregate, suppress, and say
how fresh the facts were. Used alike by the API and by the periodic reports."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from services.reporting.domain.answer import build_answer, statuses_for
from services.reporting.domain.catalogue import INDICATORS, message_dict
from services.reporting.domain.dimensions import DIMENSIONS, DIRECTORY_DIMENSIONS
from services.reporting.domain.indicator import Indicator
from services.reporting.domain.periods import local_day, periods_between
from services.reporting.domain.query import Query, build_table
from services.reporting.read import directory, facts, publications, sources
from shared.db import checkpoints
from shared.i18n import Message

MAX_BREAKDOWNS = 3
MAX_PERIODS = 400  # 13 months of days, or a century of quarters


class Problem(ValueError):
    """A question that cannot be answered as asked: which part, and why."""

    def __init__(self, field: str, message: Message) -> None:
        super().__init__(f"{field}: {message.en}")
        self.field = field
        self.message = message


def _problem(field: str, en: str, fr: str) -> Problem:
    return Problem(field, Message(en=en, fr=fr))


def indicator_named(code: str) -> Indicator:
    indicator = INDICATORS.get(code)
    if indicator is None:
        raise _problem(
            "indicator",
            "Unknown indicator; GET /statistics lists them.",
            "Indicateur inconnu ; GET /statistics en donne la liste.",
        )
    return indicator


def parse_day(value: str | None, field: str) -> date | None:
    if value is None:
        return None
    try:
        if len(value) != 10:
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise _problem(
            field, "A date is expected (YYYY-MM-DD).", "Une date est attendue (AAAA-MM-JJ)."
        ) from None


def make_query(
    indicator: Indicator,
    *,
    start: date | None,
    end: date | None,
    period: str | None,
    by: Sequence[str],
    filters: Mapping[str, Sequence[str]],
    today: date | None = None,
) -> Query:
    """The query, or the first :class:`Problem` with it. Codes of directory dimensions are
    checked separately (:func:`check_directory_codes`): they need the database."""
    today = today or local_day(datetime.now(UTC))
    end = end or today
    start = start or date(end.year, 1, 1)
    if start > end:
        raise _problem(
            "to",
            "The end of the range is before its start.",
            "La fin de l'intervalle précède son début.",
        )
    if period is not None and period not in indicator.periods:
        options = ", ".join(indicator.periods) or "-"
        raise _problem(
            "period",
            f"This indicator is not broken down by {period}; expected one of: {options}.",
            f"Cet indicateur ne se ventile pas par « {period} » ; valeurs possibles : {options}.",
        )
    if period is not None and len(periods_between(start, end, period)) > MAX_PERIODS:
        raise _problem(
            "period",
            f"Too many periods (at most {MAX_PERIODS}): choose a longer period or a shorter range.",
            f"Trop de périodes (au plus {MAX_PERIODS}) : choisissez une période plus longue ou un "
            "intervalle plus court.",
        )
    if len(by) > MAX_BREAKDOWNS:
        raise _problem(
            "by",
            f"At most {MAX_BREAKDOWNS} breakdowns.",
            f"Au plus {MAX_BREAKDOWNS} ventilations.",
        )
    for dim in by:
        if dim == "period":
            raise _problem(
                "by",
                "Break down by period with period=day, month, quarter or year.",
                "Ventilez par période avec period=day, month, quarter ou year.",
            )
        if dim not in indicator.breakdowns:
            options = ", ".join(indicator.breakdowns) or "-"
            raise _problem(
                "by",
                f"This indicator cannot be broken down by {dim}; it allows: {options}.",
                f"Cet indicateur ne se ventile pas par « {dim} » ; ventilations possibles : "
                f"{options}.",
            )
    if len(set(by)) != len(by):
        raise _problem("by", "A breakdown is repeated.", "Une ventilation est répétée.")
    checked: dict[str, frozenset[str]] = {}
    for dim, values in filters.items():
        if dim not in indicator.allowed_filters:
            options = ", ".join(indicator.allowed_filters) or "-"
            raise _problem(
                dim,
                f"This indicator cannot be filtered on {dim}; it allows: {options}.",
                f"Cet indicateur ne se filtre pas sur « {dim} » ; filtres possibles : {options}.",
            )
        dimension = DIMENSIONS[dim]
        if dimension.values is not None:
            known = dimension.values()
            if any(v not in known for v in values):
                raise _problem(
                    dim,
                    "Unknown code; GET /statistics lists the codes of each dimension.",
                    "Code inconnu ; GET /statistics donne les codes de chaque dimension.",
                )
        checked[dim] = frozenset(values)
    return Query(indicator, start, end, period, tuple(by), checked)


async def check_directory_codes(conn: AsyncConnection, query: Query) -> None:
    for dim, values in query.filters.items():
        if dim in DIRECTORY_DIMENSIONS or dim == "definition":
            known = await _known(conn, dim)
            if not values <= known:
                raise _problem(
                    dim,
                    "Unknown code: no agency, unit or report definition has it.",
                    "Code inconnu : aucune structure, unité ou définition de rapport ne l'a.",
                )


async def _known(conn: AsyncConnection, dim: str) -> set[str]:
    if dim == "definition":
        p = publications.definitions
        return {r.definition_id for r in (await conn.execute(select(p.c.definition_id))).all()}
    return await directory.known_codes(conn, dim)


async def freshness(conn: AsyncConnection) -> dict[str, Any]:
    """How far the facts have read each stream, and when they last moved."""
    rows = (
        await conn.execute(
            select(
                checkpoints.c.projector,
                checkpoints.c.stream,
                checkpoints.c.last_seq,
                checkpoints.c.updated_at,
            ).where(checkpoints.c.projector.in_([facts.FACTS_NAME, publications.PUBLICATIONS_NAME]))
        )
    ).all()
    streams: dict[str, dict[str, Any]] = {
        s.upper(): {"last_seq": 0, "applied_at": None}
        for s in (*facts.projection.contexts, *publications.projection.contexts)
    }
    for row in rows:
        streams[row.stream] = {
            "last_seq": int(row.last_seq),
            "applied_at": _iso(row.updated_at),
        }
    return {"streams": dict(sorted(streams.items())), "computed_at": _iso(datetime.now(UTC))}


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


async def labels(conn: AsyncConnection, dims: Sequence[str]) -> dict[str, dict[str, Message]]:
    out: dict[str, dict[str, Message]] = {}
    names: dict[str, Message] | None = None
    for dim in dims:
        dimension = DIMENSIONS.get(dim)
        if dimension is None or dim == "period":
            continue  # a period's key is its own label
        if dimension.values is not None:
            out[dim] = dict(dimension.values())
        else:
            names = names if names is not None else await directory.directory_names(conn)
            out[dim] = names
    return out


async def compute_answer(conn: AsyncConnection, query: Query, *, protect: bool) -> dict[str, Any]:
    """The answer to ``query``; suppressed unless ``protect`` is False or the indicator is not
    about people. Raises :class:`Problem` or ``TooManyCells``."""
    await check_directory_codes(conn, query)
    records = await sources.LOADERS[query.indicator.code](conn, query)
    table = build_table(records, query)
    protected = protect and query.indicator.protected
    statuses = statuses_for(table, protected)
    return build_answer(
        query,
        table,
        statuses,
        labels=await labels(conn, table.dims),
        freshness=await freshness(conn),
        protected=protected,
    )


async def compute_availability(conn: AsyncConnection, query: Query) -> dict[str, Any]:
    await check_directory_codes(conn, query)
    items = await directory.availability(conn)
    for dim, wanted in query.filters.items():
        items = [i for i in items if i.get(dim) in wanted]
    return {
        "indicator": {
            "code": query.indicator.code,
            "label": {"en": query.indicator.label.en, "fr": query.indicator.label.fr},
            "unit": {"en": query.indicator.unit.en, "fr": query.indicator.unit.fr},
            "measure": "availability",
        },
        "query": {"filters": {k: sorted(v) for k, v in sorted(query.filters.items())}},
        "items": [
            {
                **item,
                "display": {
                    "en": f"{item['offered']} of {item['expected']}",
                    "fr": f"{item['offered']} sur {item['expected']}",
                },
            }
            for item in items
        ],
        "labels": {
            dim: {code: message_dict(m) for code, m in values.items()}
            for dim, values in (await labels(conn, ["service_kind", "agency"])).items()
        },
        "suppression": {"applied": False},
        "freshness": await freshness(conn),
    }
