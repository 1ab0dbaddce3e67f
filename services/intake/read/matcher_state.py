"""What the duplicate matcher reads of the read model: the weights in force (the last
``MatchWeightsEstimated``, or the defaults) and the decisions people made on suggestions."""

from __future__ import annotations

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection

from services.intake.domain.match_weights import (
    Decision,
    Weights,
    default_weights,
    weights_from_json,
)
from services.intake.read.tables import match_weights, suggestions

DEFAULTS = default_weights()
_parsed: dict[str, Weights] = {}


# The newest estimate's id first, its weights only when not parsed yet: every registration
# asks, and the weights change a few times a year.
_LATEST = (
    select(match_weights.c.seq, match_weights.c.weights_id)
    .order_by(match_weights.c.seq.desc())
    .limit(1)
)
_WEIGHTS = select(match_weights.c.weights).where(
    match_weights.c.weights_id == bindparam("weights_id")
)


async def weights_in_force(conn: AsyncConnection) -> tuple[Weights, int]:
    """The last estimated weights (or the defaults) and their stream sequence (0: none)."""
    row = (await conn.execute(_LATEST)).first()
    if row is None:
        return DEFAULTS, 0
    found = _parsed.get(row.weights_id)
    if found is None:
        stored = (await conn.execute(_WEIGHTS, {"weights_id": row.weights_id})).scalar_one()
        found = _parsed[row.weights_id] = weights_from_json(stored)
    return found, row.seq


async def decisions(conn: AsyncConnection) -> list[Decision]:
    """Every decided suggestion that kept its comparison (v1 suggestions did not)."""
    rows = await conn.execute(
        select(suggestions.c.comparison, suggestions.c.status)
        .where(suggestions.c.status.in_(("confirmed", "rejected")))
        .order_by(suggestions.c.decided_seq)
    )
    return [(dict(r.comparison), r.status == "confirmed") for r in rows if r.comparison]
