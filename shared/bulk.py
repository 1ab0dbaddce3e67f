"""Writing a run of rows in one statement: every column sent as one array and unpacked by
PostgreSQL's ``unnest`` (decision 0027, "one statement per run").

``executemany`` sends one bind and execute per row, and PostgreSQL plans and runs each row
as its own statement: replaying a stream, the projector waited on PostgreSQL for longer than
it took to read and decode the events. One ``INSERT ... SELECT * FROM unnest(...)`` per
table and run costs the database a fraction of that, and the client one parameter per column
instead of one per value.

Upserts build on :attr:`ColumnInsert.statement` (``.on_conflict_do_nothing()``,
``.on_conflict_do_update()``). With ``DO UPDATE``, a run's rows must have distinct keys
(PostgreSQL refuses to change one row twice in a statement): sum or keep the last per key
first, as applying them one by one would.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import JSON, Table, Text, bindparam, cast, func, select
from sqlalchemy.dialects.postgresql import ARRAY, Insert, insert


class ColumnInsert:
    """``INSERT INTO table (columns) SELECT * FROM unnest(:c1::t1[], ...)`` and the parameters
    that carry a run of rows to it."""

    def __init__(self, table: Table, columns: Sequence[str] | None = None) -> None:
        self.columns = list(columns) if columns is not None else [c.name for c in table.columns]
        # JSON travels as text: asyncpg encodes a JSON array's items only from strings.
        self._json = {n for n in self.columns if isinstance(table.c[n].type, JSON)}
        arrays = [
            cast(cast(bindparam(n), ARRAY(Text)), ARRAY(table.c[n].type))
            if n in self._json
            else cast(bindparam(n), ARRAY(table.c[n].type))
            for n in self.columns
        ]
        rows = select(func.unnest(*arrays).table_valued(*self.columns).render_derived())
        self.statement: Insert = insert(table).from_select(self.columns, rows)

    def params(self, rows: Sequence[Mapping[str, Any]]) -> dict[str, list[Any]]:
        """Each column's values, in the rows' order (JSON as SQLAlchemy writes it: ``None``
        as JSON ``null``)."""
        return {
            name: [json.dumps(row[name]) for row in rows]
            if name in self._json
            else [row[name] for row in rows]
            for name in self.columns
        }
