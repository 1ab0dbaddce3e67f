"""Places at a unit: the capacity aggregate, decided on as the log holds it.

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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import select

from contracts.referral import PlaceFreed, PlaceReleased, PlaceReserved
from services.referral.app.aggregates import CAPACITY, REFERRAL
from services.referral.config import ReferralConfig
from services.referral.domain import (
    Capacity,
    Free,
    Hold,
    Release,
    Reserve,
    SetCapacity,
    Status,
    decide_capacity,
    place_to_release,
)
from services.referral.read.projections import holds, referrals, reservations
from shared.commands import Expect, Loaded, Outcome
from shared.envelope import Actor
from shared.events import DomainEvent
from shared.eventstore import ConcurrencyConflict
from shared.http import ApiError
from shared.i18n import Message
from shared.process import Ports, Sweep
from shared.recorded import RecordedEvent

log = logging.getLogger(__name__)

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


def _decide(
    unit_id: str, command: SetCapacity | Reserve | Release | Hold | Free
) -> Callable[[Capacity], list[DomainEvent]]:
    def decide(state: Capacity) -> list[DomainEvent]:
        return decide_capacity(replace(state, unit_id=unit_id), command)

    return decide


def _versioned(prefix: str) -> Callable[[Loaded[Capacity], Sequence[DomainEvent]], str]:
    """Keys name the capacity version they were decided at: a key per referral alone would
    make a second reservation of the same referral (accepted again after the sweep gave its
    place back) a duplicate of the first, silently dropped."""

    def key(loaded: Loaded[Capacity], events: Sequence[DomainEvent]) -> str:
        return f"{prefix}:{loaded.version}"

    return key


async def _apply(
    ports: Ports, who: Actor, unit_id: str, command: Reserve | Release, prefix: str
) -> bool:
    """Decide on the current capacity and append, deciding again when another append got in
    first; False if there was nothing to record."""
    assert ports.commands is not None
    try:
        outcome = await ports.commands.execute(
            CAPACITY,
            unit_id,
            _decide(unit_id, command),
            expect=Expect.any(),
            actor=who,
            key=_versioned(prefix),
            retry=True,
        )
    except ConcurrencyConflict:
        raise BUSY from None
    return outcome.changed


async def set_capacity(
    ports: Ports,
    unit_id: str,
    command: SetCapacity | Hold | Free,
    *,
    expect: Expect,
    actor: Actor,
    key: str | None,
) -> Outcome[Capacity]:
    assert ports.commands is not None
    return await ports.commands.execute(
        CAPACITY, unit_id, _decide(unit_id, command), expect=expect, actor=actor, key=key
    )


async def reserve(
    ports: Ports, who: Actor, unit_id: str, referral_id: str, override: str | None
) -> None:
    await _apply(ports, who, unit_id, Reserve(referral_id, override), f"reserve:{referral_id}")


async def release(ports: Ports, who: Actor, unit_id: str, referral_id: str, because: str) -> None:
    await _apply(ports, who, unit_id, Release(referral_id, because), f"release:{referral_id}")


async def release_unless_accepted(ports: Ports, who: Actor, unit_id: str, referral_id: str) -> None:
    """Undo a reservation whose acceptance was not recorded (someone else changed the
    referral first); keep it if the referral is accepted after all (a concurrent accept)."""
    assert ports.commands is not None
    referral = (await ports.commands.load(REFERRAL, referral_id)).state
    if referral is not None and referral.status is Status.accepted:
        return
    await release(ports, who, unit_id, referral_id, "not_accepted")


# -- the sweep -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Mismatch:
    """A place held for a referral that is not accepted, an accepted referral holding none,
    or a place held by hand past its end date: what the sweep puts right."""

    unit_id: str
    command: Reserve | Release | Free
    # The referral's latest event (the acceptance, withdrawal or answer the place was out of
    # step with): the fix names it as its cause. None for a referral this site never stored.
    cause: RecordedEvent | None = None


async def _mismatches(ports: Ports, now: datetime, grace: timedelta, limit: int) -> list[Mismatch]:
    assert ports.engine is not None
    async with ports.engine.connect() as conn:
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
                .limit(limit)
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
                .limit(limit)
            )
        ).all()
    found: list[Mismatch] = []
    for row in held:
        because = place_to_release(Status(row.status) if row.status else None)
        if because is not None:
            found.append(Mismatch(row.unit_id, Release(row.referral_id, because)))
    for accepted in placeless:
        found.append(Mismatch(accepted.to_unit, Reserve(accepted.referral_id, RESTORED)))
    return found


async def _holds_ended(ports: Ports, today: str, limit: int) -> list[Mismatch]:
    """Places held by hand whose end date (``until``, the last day held) has passed."""
    assert ports.engine is not None
    async with ports.engine.connect() as conn:
        ended = (
            await conn.execute(
                select(holds.c.unit_id, holds.c.hold_id)
                .where(holds.c.until < today)  # ISO dates compare as strings
                .order_by(holds.c.until, holds.c.unit_id, holds.c.hold_id)
                .limit(limit)
            )
        ).all()
    return [Mismatch(row.unit_id, Free(row.hold_id)) for row in ended]


async def _latest_of_referral(ports: Ports, mismatch: Mismatch) -> RecordedEvent | None:
    """The place follows the referral: its latest event is what the fix answers."""
    assert ports.commands is not None
    assert not isinstance(mismatch.command, Free)
    recorded = (await ports.commands.load(REFERRAL, mismatch.command.referral_id)).recorded
    return recorded[-1] if recorded else None


def capacity_sweep(
    config_of: Callable[[Ports], ReferralConfig], interval_s: float = 60.0
) -> Sweep[Capacity, Mismatch]:
    """Give back places held for referrals that are not accepted, and take one for accepted
    referrals holding none, when the mismatch is older than the grace period (longer than
    any answer in flight); free the places held by hand once their last day (the unit's
    local date) has passed. Each append states the capacity version it decided on, with a
    key naming that version, so two instances sweeping at once store one fix."""

    async def due(ports: Ports, now: datetime, limit: int) -> list[Mismatch]:
        config = config_of(ports)
        found = await _mismatches(ports, now, config.reservation_grace, limit)
        caused = [replace(m, cause=await _latest_of_referral(ports, m)) for m in found]
        # A hold that ended answers no event: its date did it.
        return caused + await _holds_ended(ports, config.local(now).date().isoformat(), limit)

    def fix(state: Capacity, now: datetime, item: Mismatch) -> list[DomainEvent]:
        if isinstance(item.command, Free) and item.command.hold_id not in state.held:
            return []  # freed by hand since the read model showed it
        return decide_capacity(replace(state, unit_id=item.unit_id), item.command)

    def key(loaded: Loaded[Capacity], events: Sequence[DomainEvent]) -> str:
        fixed = events[0]
        if isinstance(fixed, PlaceFreed):
            return f"hold-ended:{fixed.hold_id}:{loaded.version}"
        assert isinstance(fixed, PlaceReserved | PlaceReleased)
        kind = "restore" if isinstance(fixed, PlaceReserved) else "release"
        return f"{kind}:{fixed.referral_id}:{loaded.version}"

    return Sweep(
        name="capacity sweep",
        kind=CAPACITY,
        due=due,
        decide=fix,
        key=key,
        cause=lambda loaded, events, item: item.cause,
        actor=SWEEPER,
        interval_s=interval_s,
        aggregate_id=lambda item: item.unit_id,
        expect=Expect.any(),
    )
