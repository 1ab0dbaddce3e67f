"""Deadlines: a referral not answered in time becomes overdue, then is escalated to the
receiving unit's supervisor (a sweep, ``shared.process``).

Several instances sweep at once. Each firing is decided on the referral folded from the log
and appended with a key naming the step (``overdue:<id>``, ``escalated:<id>``): the event ids
are then the same on every instance, so the loser of a race finds its own ids already stored
(a duplicate) or a moved aggregate (a conflict) and records nothing. One step per sweep: the
escalation delay counts from the next look. The clock is the service's, so tests move it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from contracts.referral import ReferralMade, ReferralOverdue
from services.referral.app.aggregates import REFERRAL
from services.referral.config import ReferralConfig
from services.referral.domain import Escalate, MarkOverdue, Referral, decide
from services.referral.read.projections import referrals, units
from shared.commands import Loaded
from shared.envelope import Actor
from shared.events import DomainEvent
from shared.process import Ports, Sweep
from shared.recorded import RecordedEvent

ACTOR = Actor.system("referral-deadlines")


@dataclass(frozen=True)
class Due:
    referral_id: str
    supervisor: str | None  # the receiving unit's, to escalate to
    escalate_after: timedelta


ConfigOf = Callable[[Ports], ReferralConfig]


async def _due(ports: Ports, now: datetime, limit: int, config: ReferralConfig) -> list[Due]:
    assert ports.engine is not None
    async with ports.engine.connect() as conn:
        rows = await conn.execute(
            select(referrals.c.referral_id, units.c.supervisor)
            .outerjoin(units, units.c.unit_id == referrals.c.to_unit)
            .where(referrals.c.status == "made")
            .where(referrals.c.escalated.is_(False))
            .where(referrals.c.due_at <= now)
            .order_by(referrals.c.due_at)
            .limit(limit)
        )
        return [Due(r.referral_id, r.supervisor, config.escalate_after) for r in rows]


def deadlines(config_of: ConfigOf, interval_s: float = 60.0) -> Sweep[Referral | None, Due]:
    async def due(ports: Ports, now: datetime, limit: int) -> list[Due]:
        return await _due(ports, now, limit, config_of(ports))

    def step(state: Referral | None, now: datetime, item: Due) -> list[DomainEvent]:
        overdue = decide(state, MarkOverdue(now))
        return overdue or decide(state, Escalate(now, item.escalate_after, item.supervisor))

    def key(loaded: Loaded[Referral | None], events: Sequence[DomainEvent]) -> str:
        kind = "overdue" if isinstance(events[0], ReferralOverdue) else "escalated"
        return f"{kind}:{loaded.aggregate.id}"

    def cause(
        loaded: Loaded[Referral | None], events: Sequence[DomainEvent], item: Due
    ) -> RecordedEvent:
        """What started the clock a flag flags: the referral made, for an overdue answer;
        the overdue flag, for an escalation."""
        wanted = ReferralMade if isinstance(events[0], ReferralOverdue) else ReferralOverdue
        recorded = loaded.recorded
        return next((r for r in reversed(recorded) if isinstance(r.event, wanted)), recorded[0])

    return Sweep(
        name="deadline policy",
        kind=REFERRAL,
        due=due,
        decide=step,
        key=key,
        cause=cause,
        actor=ACTOR,
        interval_s=interval_s,
        limit=500,
        aggregate_id=lambda item: item.referral_id,
    )
