"""Deadlines: a referral not answered in time becomes overdue, then is escalated to the
receiving unit's supervisor.

Several instances may run this loop at once. Each firing is appended with the referral's
last sequence as expected version and an idempotency key derived from the referral
(``overdue:<id>``, ``escalated:<id>``): the event ids are then the same on every instance,
so the loser of a race finds its own ids already stored (a duplicate) or a moved aggregate
(a conflict) and records nothing. The clock is injectable so tests need not wait."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from services.referral.domain import Escalate, MarkOverdue, decide
from services.referral.projections import referrals, units
from services.referral.queries import referral_state
from shared.envelope import Actor, Aggregate
from shared.eventstore import ConcurrencyConflict
from shared.loops import repeat
from shared.reference import codes
from shared.service import Runtime

log = logging.getLogger(__name__)
ACTOR = Actor.system("referral-deadlines")


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class ReferralConfig:
    clock: Callable[[], datetime] = _utc_now
    # Hours to accept, per urgency; defaults from the reference codes (24 h, 72 h, 7 days).
    deadline_hours: dict[str, int] = field(default_factory=lambda: dict(codes().urgency_hours))
    escalate_after: timedelta = timedelta(hours=24)
    interval_s: float = 60.0

    def due_at(self, urgency: str) -> datetime:
        return self.clock() + timedelta(hours=self.deadline_hours[urgency])


DEFAULT_CONFIG = ReferralConfig()


def get_config() -> ReferralConfig:
    """A FastAPI dependency; tests override it (``app.dependency_overrides``) with a clock."""
    return DEFAULT_CONFIG


@dataclass
class DeadlinePolicy:
    config: ReferralConfig = field(default_factory=lambda: DEFAULT_CONFIG)

    async def loop(self, runtime: Runtime) -> None:
        async def one_tick() -> None:
            await self.run_once(runtime)

        await repeat(one_tick, interval_s=self.config.interval_s, label="deadline policy")

    async def run_once(self, runtime: Runtime) -> int:
        """Fire what is due now; returns how many events this instance appended."""
        assert runtime.engine is not None
        now = self.config.clock()
        async with runtime.engine.connect() as conn:
            due = (
                await conn.execute(
                    select(referrals, units.c.supervisor)
                    .outerjoin(units, units.c.unit_id == referrals.c.to_unit)
                    .where(referrals.c.status == "made")
                    .where(referrals.c.escalated.is_(False))
                    .where(referrals.c.due_at <= now)
                    .order_by(referrals.c.due_at)
                    .limit(500)
                )
            ).all()
        fired = 0
        for row in due:
            state = referral_state(row)
            for kind, command in (
                ("overdue", MarkOverdue(now)),
                ("escalated", Escalate(now, self.config.escalate_after, row.supervisor)),
            ):
                events = decide(state, command)
                if not events:
                    continue
                aggregate = Aggregate(
                    "referral", runtime.settings.site, "referral", state.referral_id
                )
                try:
                    result = await runtime.commit(
                        aggregate,
                        row.last_seq,
                        events,
                        actor=ACTOR,
                        idempotency_key=f"{kind}:{state.referral_id}",
                    )
                except ConcurrencyConflict:
                    break  # another instance or a person moved it: look again next tick
                if not result.duplicate:
                    fired += len(events)
                break  # one step per tick: escalation counts from the next look
        return fired
