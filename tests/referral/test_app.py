"""Referral's commands and sweeps, fast, on the in-memory event store: an answer decided on
the folded referral, places taken and given back, deadlines flagged once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from contracts.referral import Consent, ReferralDetailsShared, ReferralMade
from services.referral.app import capacity as places
from services.referral.app import referrals
from services.referral.app.aggregates import CAPACITY, REFERRAL
from services.referral.app.capacity import Mismatch, capacity_sweep
from services.referral.app.deadlines import Due, deadlines
from services.referral.config import ReferralConfig
from services.referral.domain import Accept, Make, Release, SetCapacity, Status, Withdraw, decide
from shared.commands import Expect
from shared.domain import DomainError
from shared.envelope import Actor
from tests.kitchen import Kitchen

pytestmark = pytest.mark.app

WORKER = Actor(user="w-1", agency="ocpm", role="case_worker")
COORDINATOR = Actor(user="c-1", agency="upe", role="unit_coordinator")


def made(referral_id: str, due: datetime) -> Make:
    return Make(
        ReferralMade(
            referral_id=referral_id,
            case_id="case-1",
            child_id="child-1",
            from_agency="ocpm",
            to_agency="upe",
            to_unit="shelter",
            service_kind="transit_shelter",
            urgency="emergency",
            reason="No safe place tonight",
            consent=Consent(given=True, given_by="child"),
            shared_fields=["urgency"],
            due_at=due.isoformat().replace("+00:00", "Z"),
        ),
        ReferralDetailsShared(referral_id=referral_id),
    )


async def make(kitchen: Kitchen, referral_id: str, due: datetime) -> int:
    command = made(referral_id, due)
    outcome = await kitchen.commands.execute(
        REFERRAL, referral_id, lambda s: decide(s, command), expect=Expect.new(), actor=WORKER
    )
    return outcome.version


def exists(state: object) -> bool:
    return state is not None


async def test_accepting_takes_a_place_and_withdrawing_gives_it_back() -> None:
    kitchen = Kitchen.of("referral")
    await places.set_capacity(
        kitchen, "shelter", SetCapacity(1), expect=Expect.new(), actor=COORDINATOR, key=None
    )
    version = await make(kitchen, "ref-1", datetime.now(UTC) + timedelta(days=1))
    accepted = await referrals.accept(
        kitchen,
        "ref-1",
        Accept(),
        to_unit="shelter",
        expect=Expect.seen(version),
        actor=COORDINATOR,
        key="accept-1",
        visible=exists,
    )
    assert accepted.state is not None and accepted.state.status is Status.accepted
    # A retry of the acceptance (same key, same If-Match) is answered as the first time.
    again = await referrals.accept(
        kitchen,
        "ref-1",
        Accept(),
        to_unit="shelter",
        expect=Expect.seen(version),
        actor=COORDINATOR,
        key="accept-1",
        visible=exists,
    )
    assert again.duplicate
    capacity = (await kitchen.commands.load(CAPACITY, "shelter")).state
    assert capacity.reserved == frozenset({"ref-1"}) and capacity.available == 0
    # The unit is full now: another acceptance needs an override reason.
    other = await make(kitchen, "ref-2", datetime.now(UTC) + timedelta(days=1))
    with pytest.raises(DomainError) as full:
        await referrals.accept(
            kitchen,
            "ref-2",
            Accept(),
            to_unit="shelter",
            expect=Expect.seen(other),
            actor=COORDINATOR,
            key=None,
            visible=exists,
        )
    assert full.value.code == "unit_full"
    await referrals.transition(
        kitchen,
        "ref-1",
        Withdraw("Family found"),
        expect=Expect.seen(accepted.version),
        actor=WORKER,
        key=None,
        visible=exists,
    )
    await places.release(kitchen, WORKER, "shelter", "ref-1", "withdrawn")
    assert (await kitchen.commands.load(CAPACITY, "shelter")).state.available == 1


async def test_places_of_a_unit_that_counts_none_are_never_refused() -> None:
    kitchen = Kitchen.of("referral")
    version = await make(kitchen, "ref-3", datetime.now(UTC) + timedelta(days=1))
    accepted = await referrals.accept(
        kitchen,
        "ref-3",
        Accept(),
        to_unit="clinic",
        expect=Expect.seen(version),
        actor=COORDINATOR,
        key=None,
        visible=exists,
    )
    assert accepted.state is not None and accepted.state.status is Status.accepted
    assert not (await kitchen.commands.load(CAPACITY, "clinic")).exists


async def test_overdue_then_escalated_once_each_by_two_instances() -> None:
    one = Kitchen.of("referral")
    two = one.twin()
    due = datetime.now(UTC) - timedelta(hours=1)
    await make(one, "ref-4", due)
    sweep = deadlines(lambda _: ReferralConfig())
    item = Due("ref-4", "sup-1", timedelta(hours=24))
    now = datetime.now(UTC)
    first = await asyncio.gather(sweep.flag(one, item, now), sweep.flag(two, item, now))
    assert sorted(first) == [False, True]
    assert not await sweep.flag(one, item, now)  # escalation waits 24 hours after the deadline
    later = now + timedelta(hours=25)
    second = await asyncio.gather(sweep.flag(one, item, later), sweep.flag(two, item, later))
    assert sorted(second) == [False, True]
    names = await one.names("referral", "referral", "ref-4")
    assert names.count("ReferralOverdue") == names.count("ReferralEscalated") == 1


async def test_the_capacity_sweep_gives_a_stray_place_back_once() -> None:
    one = Kitchen.of("referral")
    two = one.twin()
    await places.set_capacity(
        one, "shelter", SetCapacity(2), expect=Expect.new(), actor=COORDINATOR, key=None
    )
    await places.reserve(one, COORDINATOR, "shelter", "ref-5", None)  # its accept never came
    sweep = capacity_sweep(lambda _: ReferralConfig())
    stray = Mismatch("shelter", Release("ref-5", "not_accepted"))
    now = datetime.now(UTC)
    fixed = await asyncio.gather(sweep.flag(one, stray, now), sweep.flag(two, stray, now))
    assert sorted(fixed) == [False, True]
    assert (await one.commands.load(CAPACITY, "shelter")).state.reserved == frozenset()
