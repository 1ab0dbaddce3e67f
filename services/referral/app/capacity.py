"""Places at a unit: the capacity aggregate, written with the version the projection shows.

Two coordinators accepting at once both read version N; the server stores only the first
append at N and refuses the other, which then reads the new state and decides again: with
the last place taken it is refused (or needs an override reason). So no overbooking can
come from a race, only from an explicit override.

Accepting is two appends on two aggregates (the place, then the referral), and so are
completing and withdrawing (the referral, then the place). A process that dies between the
two leaves a place held for a referral that is not accepted, or the reverse. The sweep puts
both right once the mismatch has outlived the grace period (longer than any answer in
flight): the referral's status is the truth, and the place follows it.

Idempotency keys name the capacity version they were decided at. A key per referral alone
would make a second reservation of the same referral (accepted again after the sweep gave
its place back) a duplicate of the first, silently dropped by the server."""

from __future__ import annotations

import logging
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select

from services.referral.app.common import actor, aggregate, wait_projected
from services.referral.config import ReferralConfig
from services.referral.domain import (
    Release,
    Reserve,
    Status,
    decide_capacity,
    place_to_release,
)
from services.referral.read.projections import referrals, reservations
from services.referral.read.queries import capacity_state, referral_row
from shared.auth import Principal
from shared.causation import caused_by_event
from shared.envelope import Actor
from shared.eventstore import ConcurrencyConflict
from shared.http import ApiError
from shared.i18n import Message
from shared.loops import raise_if_cancelling, repeat
from shared.recorded import RecordedEvent
from shared.service import Runtime

log = logging.getLogger(__name__)

ATTEMPTS = 20
SWEEPER = Actor.system("referral-capacity")
# Why a place is kept for an accepted referral that had lost it (see the module docstring).
RESTORED = "Place kept for an accepted referral after an interruption"

BUSY = ApiError(
    409,
    "capacity_busy",
    Message(
        en="The unit's places are changing right now; try again.",
        fr="Les places de l'unité changent en ce moment ; réessayez.",
    ),
)


async def _apply(
    runtime: Runtime, who: Actor, unit_id: str, command: Reserve | Release, key: str
) -> bool:
    """Decide on the current capacity and append; False if there was nothing to record."""
    assert runtime.engine is not None
    for _ in range(ATTEMPTS):
        state, version = await capacity_state(runtime.engine, unit_id)
        events = decide_capacity(state, command)
        if not events:
            return False
        try:
            result = await runtime.commit(
                aggregate(runtime, "capacity", unit_id),
                version,
                events,
                actor=who,
                idempotency_key=f"{key}:{version}",
            )
            return not result.duplicate
        except ConcurrencyConflict as exc:
            await wait_projected(runtime, exc.actual)
    raise BUSY


async def reserve(
    runtime: Runtime, principal: Principal, unit_id: str, referral_id: str, override: str | None
) -> None:
    await _apply(
        runtime,
        actor(principal),
        unit_id,
        Reserve(referral_id, override),
        f"reserve:{referral_id}",
    )


async def release(
    runtime: Runtime, principal: Principal, unit_id: str, referral_id: str, because: str
) -> None:
    await _apply(
        runtime,
        actor(principal),
        unit_id,
        Release(referral_id, because),
        f"release:{referral_id}",
    )


async def release_unless_accepted(
    runtime: Runtime, principal: Principal, unit_id: str, referral_id: str
) -> None:
    """Undo a reservation whose acceptance was not recorded (someone else changed the
    referral first); keep it if the referral is accepted after all (a concurrent accept)."""
    assert runtime.engine is not None
    row = await referral_row(runtime.engine, referral_id)
    if row is not None and row.status == Status.accepted.value:
        return
    await release(runtime, principal, unit_id, referral_id, "not_accepted")


# -- the sweep -----------------------------------------------------------------------------


async def sweep_once(runtime: Runtime, config: ReferralConfig, now: datetime | None = None) -> int:
    """Give back places held for referrals that are not accepted, and take one for accepted
    referrals holding none, when the mismatch is older than the grace period. Safe on several
    instances at once: each append states the capacity version it decided on, with a key
    naming that version, so the loser of a race stores nothing. Returns the events appended."""
    assert runtime.engine is not None
    now = now or datetime.now(UTC)
    grace = config.reservation_grace
    async with runtime.engine.connect() as conn:
        held = (
            await conn.execute(
                select(
                    reservations.c.unit_id,
                    reservations.c.referral_id,
                    reservations.c.reserved_at,
                    referrals.c.status,
                )
                .outerjoin(referrals, referrals.c.referral_id == reservations.c.referral_id)
                .where(referrals.c.status.is_distinct_from(Status.accepted.value))
                .where(reservations.c.reserved_at <= now - grace)
                .order_by(reservations.c.reserved_at)
                .limit(200)
            )
        ).all()
        placeless = (
            await conn.execute(
                select(referrals.c.to_unit, referrals.c.referral_id, referrals.c.answered_at)
                .outerjoin(
                    reservations,
                    (reservations.c.referral_id == referrals.c.referral_id)
                    & (reservations.c.unit_id == referrals.c.to_unit),
                )
                .where(referrals.c.status == Status.accepted.value)
                .where(reservations.c.referral_id.is_(None))
                .where(referrals.c.answered_at <= now - grace)
                .order_by(referrals.c.answered_at)
                .limit(200)
            )
        ).all()
    fixed = 0
    for row in held:
        because = place_to_release(Status(row.status) if row.status else None)
        if because is None:
            continue
        fixed += await _sweep_step(
            runtime, row.unit_id, Release(row.referral_id, because), f"release:{row.referral_id}"
        )
    for accepted in placeless:
        fixed += await _sweep_step(
            runtime,
            accepted.to_unit,
            Reserve(accepted.referral_id, RESTORED),
            f"restore:{accepted.referral_id}",
        )
    return fixed


async def _sweep_step(runtime: Runtime, unit_id: str, command: Reserve | Release, key: str) -> int:
    try:
        # The place follows the referral: the correction names the referral's latest event
        # (the acceptance, withdrawal or answer the place was out of step with).
        latest = await _latest_of_referral(runtime, command.referral_id)
        with caused_by_event(latest) if latest is not None else nullcontext():
            return 1 if await _apply(runtime, SWEEPER, unit_id, command, key) else 0
    except ApiError:
        return 0  # the unit's places are busy: next sweep
    except Exception as exc:
        # One unit's trouble must not stop the sweep of the others; it is retried next time.
        raise_if_cancelling(exc)
        log.warning("capacity sweep: a unit skipped this time: %s", type(exc).__name__)
        return 0


async def _latest_of_referral(runtime: Runtime, referral_id: str) -> RecordedEvent | None:
    """None for a place held for a referral this site never stored: nothing caused it."""
    assert runtime.store is not None
    recorded = await runtime.store.load(aggregate(runtime, "referral", referral_id))
    return recorded[-1] if recorded else None


@dataclass
class CapacitySweep:
    config: ReferralConfig | None = None  # None: from the runtime's settings

    async def loop(self, runtime: Runtime) -> None:
        config = self.config or ReferralConfig.from_settings(runtime.settings)

        async def one_sweep() -> None:
            await sweep_once(runtime, config)

        await repeat(one_sweep, interval_s=config.interval_s, label="capacity sweep")
