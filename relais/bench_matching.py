"""``relais bench --scenario matching``: the duplicate matcher's quality on the labelled
pairs (overall and per kind, tuning and held-out), what it learns from 50 decisions, and
its cost per registration against a registry of ``--children`` child records (100,000 by
default) in PostgreSQL: the candidate query on the index plus the scoring."""

from __future__ import annotations

import asyncio
import json
import random
import shutil
import statistics
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table as RichTable
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.intake import ReportedChild
from relais.bench_results import err, write_results
from relais.embedded import EmbeddedPostgres
from relais.matcher_learning import GIVEN, SURNAMES, learning_figures
from relais.matcher_quality import evaluate, load_pairs
from services.intake.app.recording import candidates
from services.intake.config import DEFAULT_NAMES_FILE, name_knowledge
from services.intake.domain.match_weights import default_weights
from services.intake.domain.matching import birth_window, profile, suggest
from services.intake.read import metadata
from services.intake.read.match_profiles import stored_keys
from shared.config import Settings, with_database
from shared.db import ensure_database, make_engine
from shared.reference import locations

REGISTRATIONS = 300  # registrations timed against the full registry
_SYLLABLES = [
    "hou",
    "ngbo",
    "ga",
    "da",
    "to",
    "kpa",
    "sou",
    "ade",
    "ba",
    "gui",
    "zo",
    "ke",
    "mè",
    "no",
    "ssa",
    "gbé",
    "dji",
    "la",
    "wo",
    "ri",
    "ki",
    "fa",
    "yé",
    "mi",
]


def quality() -> dict[str, Any]:
    found = evaluate(name_knowledge(), default_weights(), load_pairs())
    return {
        split: {kind: t.as_json() for kind, t in sorted(kinds.items())}
        | {"mistakes": kinds["all"].mistakes}
        for split, kinds in sorted(found.items())
    }


def _names(rng: random.Random) -> tuple[list[str], list[str], list[str]]:
    """Given names (both sexes) and surnames, most common first (drawn with a Zipf-like
    skew, as real registries are: a few names are very common)."""
    raw = json.loads(DEFAULT_NAMES_FILE.read_text(encoding="utf-8"))
    forms = [f.title() for g in raw["variants"] for f in g["forms"]]
    female = [f for group in GIVEN["female"] for f in group] + forms[::2]
    male = [f for group in GIVEN["male"] for f in group] + forms[1::2]
    surnames = list(SURNAMES)
    while len(surnames) < 3000:
        surnames.append("".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4))).title())
    return female, male, surnames


def _respelled(rng: random.Random, name: str, forms: dict[str, list[str]]) -> str:
    """The name as another reporter may write it: its given name in another form of the same
    variant group (``Mohamed`` for ``Mamadou``) when the names file lists one."""
    first, _, rest = name.partition(" ")
    others = [f for f in forms.get(first.lower(), []) if f != first.lower()]
    return f"{rng.choice(others).title()} {rest}" if others else name


def _variant_forms() -> dict[str, list[str]]:
    raw = json.loads(DEFAULT_NAMES_FILE.read_text(encoding="utf-8"))
    return {f: g["forms"] for g in raw["variants"] for f in g["forms"]}


def _skewed(rng: random.Random, items: list[str]) -> str:
    """Rank r drawn with weight 1 / (r + 10): the commonest name is given to about one child
    in forty, as the commonest names are in a country's registers, and rare ones abound."""
    weights = _WEIGHTS.setdefault(len(items), [1 / (r + 10) for r in range(len(items))])
    return rng.choices(items, weights=weights)[0]


_WEIGHTS: dict[int, list[float]] = {}


def _child(
    rng: random.Random, names: tuple[list[str], list[str], list[str]], communes: list[str], i: int
) -> dict[str, Any]:
    female, male, surnames = names
    sex = rng.choice(["female", "male", "unknown"] if rng.random() < 0.1 else ["female", "male"])
    first = _skewed(rng, female if sex == "female" else male)
    age = rng.randint(0, 17)
    return {
        "child_id": f"bench-{i}",
        "name": f"{first} {_skewed(rng, surnames)}",
        "sex": sex,
        "age": age if rng.random() > 0.15 else None,
        "commune": rng.choice(communes),
        "year": rng.choice([2023, 2024, 2025]),
    }


def _keys(c: dict[str, Any]) -> list[tuple[Any, ...]]:
    """The child's rows in the matcher's index, as intake's projection writes them."""
    d = ReportedChild(child_id=c["child_id"], name=c["name"], sex=c["sex"], age_years=c["age"])
    received = datetime(c["year"], 6, 1, 10, tzinfo=UTC)
    return [
        (k, c["child_id"], c["sex"], True, f"rep-{c['child_id']}", received)
        for k in stored_keys(d, f"{c['year']}-06-01T10:00:00Z")
    ]


def _row(c: dict[str, Any]) -> tuple[Any, ...]:
    d = ReportedChild(child_id=c["child_id"], name=c["name"], sex=c["sex"], age_years=c["age"])
    age = c["age"]
    born = (c["year"] + 0.415 - age - 1, c["year"] + 0.415 - age) if age is not None else None
    return (
        c["child_id"],
        f"rep-{c['child_id']}",
        None,
        "ocpm",
        c["commune"],
        c["sex"],
        False,
        born[0] if born else None,
        born[1] if born else None,
        json.dumps(d.model_dump(mode="json")),
        "[]",
        "[]",
        datetime(c["year"], 6, 1, 10, tzinfo=UTC),
        1,
    )


async def _fill(
    engine: AsyncEngine, rows: list[tuple[Any, ...]], keys: list[tuple[Any, ...]]
) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(metadata.drop_all)
        await conn.run_sync(metadata.create_all)
        raw = await conn.get_raw_connection()
        await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
            "intake_children",
            records=rows,
            columns=[
                "child_id",
                "report_id",
                "case_id",
                "agency",
                "commune",
                "sex",
                "unidentified",
                "born_from",
                "born_to",
                "details",
                "corrections",
                "refusals",
                "received_at",
                "version",
            ],
        )
        await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
            "intake_child_keys",
            records=keys,
            columns=["key", "child_id", "sex", "matchable", "report_id", "received_at"],
        )
    async with engine.connect() as conn:
        await conn.execute(text("COMMIT"))
        await conn.execute(text("VACUUM ANALYZE intake_children"))
        await conn.execute(text("VACUUM ANALYZE intake_child_keys"))


async def cost(db_url: str, children: int, seed: int = 11) -> dict[str, Any]:
    rng = random.Random(seed)
    communes = [a.code for a in locations().at_level(1)]
    names = _names(rng)
    registry = [_child(rng, names, communes, i) for i in range(children)]
    started = time.perf_counter()
    rows = [_row(c) for c in registry]
    keys = [k for c in registry for k in _keys(c)]
    keys_s = time.perf_counter() - started
    url = with_database(db_url, "relais_bench_matching")
    await ensure_database(url)
    engine = make_engine(url, pool_size=2)
    k, w = name_knowledge(), default_weights()
    try:
        await _fill(engine, rows, keys)
        timings: list[float] = []
        query_ms: list[float] = []
        fetched: list[int] = []
        suggested = 0
        planted = found_again = 0
        forms = _variant_forms()
        async with engine.connect() as conn:
            plan = await conn.execute(
                text("EXPLAIN SELECT child_id FROM intake_child_keys WHERE key = ANY(:k)"),
                {"k": [row[0] for row in keys[:8]]},
            )
            uses_index = "ux_intake_child_keys" in " ".join(r[0] for r in plan)
            for i in range(REGISTRATIONS):
                # A third are children already known, reported again, half of them with their
                # given name spelled another way: whether the matcher suggests the child
                # already registered is its recall through the index, not only on pairs.
                known = i % 3 == 0
                base = rng.choice(registry) if known else _child(rng, names, communes, -i)
                age = base["age"]
                received = date(2025, 9, 1)
                new = profile(
                    k,
                    f"new-{i}",
                    name=_respelled(rng, base["name"], forms) if known and i % 2 else base["name"],
                    alias=None,
                    sex=base["sex"],
                    born=birth_window(received, None, age, age),
                    commune=base["commune"],
                    ages=(age, age) if age is not None else None,
                    report_id=f"new-{i}",
                    year=2025,
                )
                t0 = time.perf_counter()
                found = await candidates(conn, new)
                t1 = time.perf_counter()
                matches = suggest(k, w, new, found)
                timings.append((time.perf_counter() - t0) * 1000)
                query_ms.append((t1 - t0) * 1000)
                fetched.append(len(found))
                suggested += bool(matches)
                if known:
                    planted += 1
                    found_again += any(m.candidate_id == base["child_id"] for m in matches)
    finally:
        await engine.dispose()
    timings.sort()
    return {
        "children": children,
        "registrations": REGISTRATIONS,
        "index_used": uses_index,
        "ms_per_registration": {
            "p50": round(statistics.median(timings), 2),
            "p95": round(timings[int(len(timings) * 0.95) - 1], 2),
            "p99": round(timings[int(len(timings) * 0.99) - 1], 2),
            "max": round(timings[-1], 2),
        },
        "query_ms_p50": round(statistics.median(query_ms), 2),
        "candidates": {"mean": round(statistics.mean(fetched), 1), "max": max(fetched)},
        "index_rows": len(keys),
        "registrations_with_a_suggestion": suggested,
        "known_children_found": {"reported_again": planted, "suggested": found_again},
        "keys_per_child_ms": round(keys_s * 1000 / children, 3),
    }


def measure(db_url: str, children: int) -> dict[str, Any]:
    return {
        "quality": quality(),
        "learning": learning_figures(name_knowledge(), decisions=50),
        "cost": asyncio.run(cost(db_url, children)),
    }


def run_matching(*, children: int, data_dir: Path, json_output: bool) -> int:
    db_url = Settings().database_url  # the environment as it is now
    pg: EmbeddedPostgres | None = None
    try:
        if not db_url:
            shutil.rmtree(data_dir / "postgres", ignore_errors=True)
            pg = EmbeddedPostgres(data_dir / "postgres").start()
            db_url = pg.url
        err.log(f"matching: quality, learning, cost at {children:,} children")
        report = {"scenario": "matching", **measure(db_url, children)}
    finally:
        if pg is not None:
            pg.stop()
    write_results(report)
    if json_output:
        print(json.dumps(report))
        return 0
    _print(report)
    return 0


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _print(report: dict[str, Any]) -> None:
    console = Console()
    for split, kinds in report["quality"].items():
        table = RichTable(
            "kind",
            "pairs",
            "same child",
            "found",
            "missed",
            "false alarms",
            "precision",
            "recall",
            title=f"labelled pairs: {split}",
        )
        for kind, t in kinds.items():
            if kind == "mistakes":
                continue
            table.add_row(
                kind,
                str(t["pairs"]),
                str(t["same_child"]),
                str(t["found"]),
                str(t["missed"]),
                str(t["false_alarms"]),
                _pct(t["precision"]),
                _pct(t["recall"]),
                style="bold" if kind == "all" else None,
            )
        console.print(table)
        for mistake in kinds["mistakes"]:
            console.print(f"  {mistake}")
    learning = report["learning"]
    table = RichTable(
        "weights",
        "AUC",
        "average precision",
        "precision",
        "recall",
        title=f"held-back pairs after {sum(learning['decisions'].values())} "
        f"decisions ({learning['held_back_pairs']} pairs)",
    )
    for name in ("defaults", "learned"):
        r = learning[name]
        table.add_row(
            name, *(f"{r[k]:.4f}" for k in ("auc", "average_precision", "precision", "recall"))
        )
    console.print(table)
    c = report["cost"]
    ms = c["ms_per_registration"]
    console.print(
        f"cost at {c['children']:,} children ({c['registrations']} registrations, index used: "
        f"{c['index_used']}): {ms['p50']} ms p50, {ms['p95']} ms p95, {ms['p99']} ms p99, "
        f"{ms['max']} ms max per registration (candidate query + scoring); candidates "
        f"{c['candidates']['mean']} mean, {c['candidates']['max']} max; known children "
        f"reported again: {c['known_children_found']['suggested']} of "
        f"{c['known_children_found']['reported_again']} suggested"
    )
