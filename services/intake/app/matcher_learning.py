"""The duplicate matcher's weights in force, and the loop that estimates them from the
people's decisions.

Every confirmed or rejected suggestion keeps the field comparison the person saw; the
learning loop (at start, then every ``RELAIS_MATCHER_LEARNING_INTERVAL_S``) estimates the
weights from all of them, with the defaults as prior, once there are
``RELAIS_MATCHER_MIN_DECISIONS``. New weights are an event, ``MatchWeightsEstimated``, so
every instance uses the same ones and every suggestion names the weights that scored it.
Two instances estimating at once compute the same weights from the same decisions: the
deterministic key and the expected version keep one event."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from contracts.intake import MatchWeightsEstimated
from services.intake.app.aggregates import aggregate
from services.intake.domain.match_weights import Weights, estimate
from services.intake.domain.timestamps import iso
from services.intake.read.matcher_state import DEFAULTS, decisions, weights_in_force
from shared.envelope import Actor
from shared.eventstore import ConcurrencyConflict
from shared.loops import repeat
from shared.service import Runtime

log = logging.getLogger(__name__)
ACTOR = Actor.system("intake.matcher-learning")


async def learn_once(rt: Runtime) -> Weights | None:
    """Estimate the weights from the decisions; append them if they changed. Returns the new
    weights, or None when nothing was appended."""
    assert rt.engine is not None
    async with rt.engine.connect() as conn:
        found = await decisions(conn)
        current, seq = await weights_in_force(conn)
    if len(found) < rt.settings.matcher_min_decisions:
        return None
    new = estimate(found, DEFAULTS)
    if new.weights_id == current.weights_id:
        return None
    body = new.as_json()
    event = MatchWeightsEstimated(
        weights_id=new.weights_id,
        levels=body["levels"],
        prior=new.prior,
        threshold=new.threshold,
        confirmed=new.confirmed,
        rejected=new.rejected,
        estimated_at=iso(datetime.now(UTC)),
    )
    try:
        await rt.commit(
            aggregate(rt, "matcher", "weights"),
            seq,
            [event],
            actor=ACTOR,
            idempotency_key=f"weights:{new.weights_id}",
        )
    except ConcurrencyConflict:
        return None  # another instance got there first; its weights are read next time
    log.info("matcher weights %s from %d decisions", new.weights_id, len(found))
    return new


async def matcher_learning(rt: Runtime) -> None:
    await repeat(
        lambda: learn_once(rt),
        interval_s=rt.settings.matcher_learning_interval_s,
        label="matcher learning",
    )
