"""Deadlines: a referral not answered in time becomes overdue, then is escalated to the
receiving unit's supervisor.

Several instances may run this loop at once. Each firing is appended with the referral's
last sequence as expected version and an idempotency key derived from the referral
(``overdue:<id>``, ``escalated:<id>``): the event ids are then the same on every instance,
so the loser of a race finds its own ids already stored (a duplicate) or a moved aggregate
(a conflict) and records nothing. The clock is injectable so tests need not wait."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select

from contracts.referral import ReferralMade, ReferralOverdue
from services.referral.config import ReferralConfig
from services.referral.domain import Escalate, MarkOverdue, decide
from services.referral.read.projections import referrals, units
from services.referral.read.queries import referral_state
from shared.causation import caused_by_event
from shared.envelope import Actor, Aggregate
from shared.eventstore import ConcurrencyConflict
from shared.loops import repeat
from shared.recorded import RecordedEvent
from shared.service import Runtime

log = logging.getLogger(__name__)
ACTOR = Actor.system("referral-deadlines")


async def _clock_started_by(runtime: Runtime, aggregate: Aggregate, kind: str) -> RecordedEvent:
    assert runtime.store is not None
    recorded = await runtime.store.load(aggregate)
    wanted = ReferralOverdue if kind == "escalated" else ReferralMade
    return next((r for r in reversed(recorded) if isinstance(r.event, wanted)), recorded[0])


@dataclass
class DeadlinePolicy:
    config: ReferralConfig | None = None  # None: from the runtime's settings

    def config_for(self, runtime: Runtime) -> ReferralConfig:
        return self.config or ReferralConfig.from_settings(runtime.settings)

    async def loop(self, runtime: Runtime) -> None:
        async def one_tick() -> None:
            await self.run_once(runtime)

        interval = self.config_for(runtime).interval_s
        await repeat(one_tick, interval_s=interval, label="deadline policy")

    async def run_once(self, runtime: Runtime) -> int:
        """Fire what is due now; returns how many events this instance appended."""
        assert runtime.engine is not None
        config = self.config_for(runtime)
        now = config.clock()
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
                ("escalated", Escalate(now, config.escalate_after, row.supervisor)),
            ):
                events = decide(state, command)
                if not events:
                    continue
                aggregate = Aggregate(
                    "referral", runtime.settings.site, "referral", state.referral_id
                )
                try:
                    # The flag names what started the clock it flags: the referral made for
                    # an overdue answer, the overdue flag for an escalation.
                    cause = await _clock_started_by(runtime, aggregate, kind)
                    with caused_by_event(cause):
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
