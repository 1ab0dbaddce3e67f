"""One statement per run of rows (shared.bulk) writes what executemany writes, on a real
PostgreSQL: every column type the read models use, NULLs, and both kinds of upsert."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import BigInteger, Column, DateTime, Integer, MetaData, String, Table, select
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.bulk import ColumnInsert

pytestmark = pytest.mark.connected

metadata = MetaData()
rows_table = Table(
    "bulk_rows",
    metadata,
    Column("stream", String(64), primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    Column("label", String, nullable=True),
    Column("count", Integer, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("data", JSONB, nullable=False),
)
BULK = ColumnInsert(rows_table)
START = datetime(2026, 12, 6, 7, 0, tzinfo=UTC)


def rows(first: int, count: int) -> list[dict[str, Any]]:
    return [
        {
            "stream": "INTAKE",
            "seq": seq,
            "label": None if seq % 3 == 0 else f"Aïcha «{seq}» d'Abomey",
            "count": seq * 2,
            "at": START + timedelta(seconds=seq),
            "data": {"child": {"names": ["Kossi", "Afi"], "age": seq}, "note": None, "ok": True},
        }
        for seq in range(first, first + count)
    ]


async def table_rows(engine: AsyncEngine) -> list[tuple[Any, ...]]:
    async with engine.connect() as conn:
        query = select(rows_table).order_by(rows_table.c.stream, rows_table.c.seq)
        return [tuple(r) for r in (await conn.execute(query)).all()]


async def fresh(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(metadata.drop_all)
        await conn.run_sync(metadata.create_all)


async def test_a_run_in_one_statement_writes_what_executemany_writes(engine: AsyncEngine) -> None:
    await fresh(engine)
    async with engine.begin() as conn:
        await conn.execute(insert(rows_table), rows(1, 40))
    expected = await table_rows(engine)

    await fresh(engine)
    async with engine.begin() as conn:
        await conn.execute(BULK.statement, BULK.params(rows(1, 40)))
    assert await table_rows(engine) == expected
    assert len(expected) == 40 and expected[2][2] is None and expected[0][5]["child"]["age"] == 1


async def test_upserts_on_a_run_in_one_statement(engine: AsyncEngine) -> None:
    await fresh(engine)
    statement = BULK.statement
    keep = statement.on_conflict_do_nothing()
    async with engine.begin() as conn:
        await conn.execute(keep, BULK.params(rows(1, 10)))
        # A redelivered run overlapping the first: the rows already there stay as they were.
        again = [{**row, "count": -1} for row in rows(5, 10)]
        await conn.execute(keep, BULK.params(again))
    counts = [r[3] for r in await table_rows(engine)]
    assert counts == [seq * 2 for seq in range(1, 11)] + [-1] * 4

    add = statement.on_conflict_do_update(
        index_elements=[rows_table.c.stream, rows_table.c.seq],
        set_={"count": rows_table.c.count + statement.excluded.count},
    )
    async with engine.begin() as conn:
        await conn.execute(add, BULK.params(rows(1, 2)))
    assert [r[3] for r in await table_rows(engine)][:3] == [4, 8, 6]


async def test_an_empty_run_writes_nothing(engine: AsyncEngine) -> None:
    await fresh(engine)
    async with engine.begin() as conn:
        await conn.execute(BULK.statement, BULK.params([]))
    assert await table_rows(engine) == []


@pytest.mark.parametrize("column", ["seq", "at"])
async def test_a_value_of_the_wrong_type_is_refused_whole(engine: AsyncEngine, column: str) -> None:
    await fresh(engine)
    bad = rows(1, 3)
    bad[1][column] = "not a value of this column"
    with pytest.raises(Exception):  # noqa: B017 (the driver's own error, whichever it is)
        async with engine.begin() as conn:
            await conn.execute(BULK.statement, BULK.params(bad))
    assert await table_rows(engine) == []
