"""Places at a unit: the capacity aggregate, written with the version the projection shows.

Two coordinators accepting at once both read version N; the server stores only the first
append at N and refuses the other, which then reads the new state and decides again: with
the last place taken it is refused (or needs an override reason). So no overbooking can
come from a race, only from an explicit override."""

from __future__ import annotations

from services.referral.domain import (
    Release,
    Reserve,
    Status,
    decide_capacity,
)
from services.referral.queries import capacity_state, referral_row
from services.referral.web import actor, aggregate, wait_projected
from shared.auth import Principal
from shared.envelope import Actor
from shared.eventstore import ConcurrencyConflict
from shared.http import ApiError
from shared.i18n import Message
from shared.service import Runtime

ATTEMPTS = 20

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
) -> None:
    assert runtime.engine is not None
    for _ in range(ATTEMPTS):
        state, version = await capacity_state(runtime.engine, unit_id)
        events = decide_capacity(state, command)
        if not events:
            return
        try:
            await runtime.commit(
                aggregate(runtime, "capacity", unit_id),
                version,
                events,
                actor=who,
                idempotency_key=key,
            )
            return
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
