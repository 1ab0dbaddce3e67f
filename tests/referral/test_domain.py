"""The referral state machine and the capacity aggregate, without any server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from contracts import referral as ev
from services.referral import domain as d
from shared.i18n import Message

pytestmark = pytest.mark.domain

DUE = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)


def made() -> d.Make:
    return d.Make(
        ev.ReferralMade(
            referral_id="r1",
            case_id="c1",
            child_id="k1",
            from_agency="ocpm",
            to_agency="upe",
            to_unit="u1",
            service_kind="psychological",
            urgency="emergency",
            reason="why",
            consent=ev.Consent(given=True, given_by="child", given_at="2026-03-02T08:00:00Z"),
            shared_fields=["urgency"],
            due_at="2026-03-03T09:00:00Z",
        ),
        ev.ReferralDetailsShared(referral_id="r1"),
    )


def state_after(*commands: d.Command) -> d.Referral:
    state: d.Referral | None = None
    for command in (made(), *commands):
        for event in d.decide(state, command):
            state = d.evolve(state, event)
    assert state is not None
    return state


def test_make_records_the_referral_and_its_shared_details() -> None:
    events = d.decide(None, made())
    assert [type(e) for e in events] == [ev.ReferralMade, ev.ReferralDetailsShared]
    state = state_after()
    assert state.status is d.Status.made and state.due_at == DUE


def test_make_twice_is_refused() -> None:
    with pytest.raises(d.DomainError) as err:
        d.decide(state_after(), made())
    assert err.value.code == "already_exists"


def test_commands_on_a_missing_referral_are_404() -> None:
    with pytest.raises(d.DomainError) as err:
        d.decide(None, d.Accept())
    assert err.value.status == 404


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ((d.Accept(),), d.Status.accepted),
        ((d.Accept("over capacity, emergency"),), d.Status.accepted),
        ((d.Decline("no psychologist this week", "u2"),), d.Status.declined),
        ((d.Withdraw("family moved"),), d.Status.withdrawn),
        ((d.Accept(), d.Complete("seen three times")), d.Status.completed),
        ((d.Accept(), d.Withdraw("child returned home")), d.Status.withdrawn),
    ],
)
def test_every_allowed_transition(path: tuple[d.Command, ...], status: d.Status) -> None:
    assert state_after(*path).status is status


def test_events_carry_what_casework_needs() -> None:
    state = state_after()
    [accepted] = d.decide(state, d.Accept("full but urgent"))
    assert isinstance(accepted, ev.ReferralAccepted)
    assert (accepted.case_id, accepted.to_unit, accepted.capacity_override_reason) == (
        "c1",
        "u1",
        "full but urgent",
    )
    [declined] = d.decide(state, d.Decline("no place", "u2"))
    assert isinstance(declined, ev.ReferralDeclined) and declined.suggested_unit == "u2"
    [completed] = d.decide(state_after(d.Accept()), d.Complete("done"))
    assert isinstance(completed, ev.ReferralCompleted) and completed.outcome == "done"


REFUSED = [
    ((), d.Complete("x")),  # not accepted yet
    ((d.Accept(),), d.Accept()),
    ((d.Accept(),), d.Decline("x")),
    ((d.Decline("x"),), d.Accept()),
    ((d.Decline("x"),), d.Decline("x")),
    ((d.Decline("x"),), d.Complete("x")),
    ((d.Decline("x"),), d.Withdraw("x")),
    ((d.Withdraw("x"),), d.Accept()),
    ((d.Withdraw("x"),), d.Decline("x")),
    ((d.Withdraw("x"),), d.Complete("x")),
    ((d.Withdraw("x"),), d.Withdraw("x")),
    ((d.Accept(), d.Complete("x")), d.Accept()),
    ((d.Accept(), d.Complete("x")), d.Decline("x")),
    ((d.Accept(), d.Complete("x")), d.Complete("x")),
    ((d.Accept(), d.Complete("x")), d.Withdraw("x")),
]


@pytest.mark.parametrize(("path", "command"), REFUSED)
def test_every_illegal_transition_is_refused_with_a_reason_in_both_languages(
    path: tuple[d.Command, ...], command: d.Command
) -> None:
    state = state_after(*path)
    with pytest.raises(d.DomainError) as err:
        d.decide(state, command)
    assert err.value.status == 409 and err.value.code == "illegal_transition"
    assert "cannot be" in err.value.message.en and "ne peut pas" in err.value.message.fr


def test_declining_in_favour_of_the_same_unit_is_refused() -> None:
    with pytest.raises(d.DomainError) as err:
        d.decide(state_after(), d.Decline("x", "u1"))
    assert err.value.status == 422


def test_overdue_only_once_and_only_after_the_due_time() -> None:
    state = state_after()
    assert d.decide(state, d.MarkOverdue(DUE - timedelta(seconds=1))) == []
    [overdue] = d.decide(state, d.MarkOverdue(DUE))
    assert isinstance(overdue, ev.ReferralOverdue) and overdue.due_at == "2026-03-03T09:00:00Z"
    state = d.evolve(state, overdue)
    assert state is not None and d.decide(state, d.MarkOverdue(DUE + timedelta(days=3))) == []


def test_escalation_follows_overdue_after_the_delay_once() -> None:
    later = timedelta(hours=12)
    state = state_after()
    assert d.decide(state, d.Escalate(DUE + later, later, "sup")) == []  # not overdue yet
    state = d.evolve(state, d.decide(state, d.MarkOverdue(DUE))[0])
    assert state is not None
    assert d.decide(state, d.Escalate(DUE + later - timedelta(minutes=1), later, "sup")) == []
    [escalated] = d.decide(state, d.Escalate(DUE + later, later, "sup"))
    assert isinstance(escalated, ev.ReferralEscalated) and escalated.escalated_to == "sup"
    state = d.evolve(state, escalated)
    assert state is not None and d.decide(state, d.Escalate(DUE + later * 3, later, "s")) == []


def test_answered_referrals_never_become_overdue() -> None:
    for path in ((d.Accept(),), (d.Decline("x"),), (d.Withdraw("x"),)):
        assert d.decide(state_after(*path), d.MarkOverdue(DUE + timedelta(days=9))) == []


# -- capacity ------------------------------------------------------------------------------


def fold(state: d.Capacity, *commands: d.CapacityCommand) -> d.Capacity:
    for command in commands:
        for event in d.decide_capacity(state, command):
            state = d.evolve_capacity(state, event)
    return state


def test_reserving_and_releasing_places() -> None:
    state = fold(d.Capacity("u1"), d.SetCapacity(2, occupied_outside=0), d.Reserve("r1"))
    assert state.available == 1
    state = fold(state, d.Reserve("r1"))  # a retry reserves nothing more
    assert state.available == 1
    state = fold(state, d.Reserve("r2"))
    assert state.available == 0
    state = fold(state, d.Release("r1", "completed"), d.Release("r1", "completed"))
    assert state.available == 1 and state.reserved == frozenset({"r2"})


def test_a_full_unit_refuses_unless_an_override_reason_is_given() -> None:
    state = fold(d.Capacity("u1"), d.SetCapacity(2, occupied_outside=1), d.Reserve("r1"))
    with pytest.raises(d.DomainError) as err:
        d.decide_capacity(state, d.Reserve("r2"))
    assert err.value.code == "unit_full" and "dépassement" in err.value.message.fr
    with pytest.raises(d.DomainError):
        d.decide_capacity(state, d.Reserve("r2", "   "))
    state = fold(state, d.Reserve("r2", "child in danger tonight"))
    assert state.reserved == frozenset({"r1", "r2"}) and state.available == 0


def test_a_place_held_by_hand_counts_until_it_is_freed() -> None:
    state = fold(d.Capacity("u1"), d.SetCapacity(2), d.Hold("h1", "placed by the judge"))
    assert state.available == 1 and state.held == frozenset({"h1"})
    assert d.decide_capacity(state, d.Hold("h1", "placed by the judge")) == []  # a retry
    state = fold(state, d.Reserve("r1"))
    for full in (d.Hold("h2", "one more"), d.Reserve("r2")):
        with pytest.raises(d.DomainError) as err:
            d.decide_capacity(state, full)
        assert err.value.code == "unit_full"
    state = fold(state, d.Free("h1"))
    assert state.available == 1 and state.held == frozenset()
    with pytest.raises(d.DomainError) as err:
        d.decide_capacity(state, d.Free("h1"))
    assert (err.value.code, err.value.status) == ("hold_not_found", 404)
    with pytest.raises(d.DomainError) as err:
        d.decide_capacity(d.Capacity("line"), d.Hold("h1", "x"))
    assert err.value.code == "capacity_not_counted" and "capacité" in err.value.message.fr
    with pytest.raises(d.DomainError) as err:
        d.decide_capacity(state, d.Hold("h3", "   "))
    assert err.value.code == "note_required"


def test_a_unit_that_counts_no_places_accepts_without_reserving() -> None:
    assert d.decide_capacity(d.Capacity("psychologist"), d.Reserve("r1")) == []
    # Once it counts places, a capacity of zero is full.
    state = fold(d.Capacity("psychologist"), d.SetCapacity(0))
    with pytest.raises(d.DomainError):
        d.decide_capacity(state, d.Reserve("r1"))


def test_capacity_below_zero_is_refused() -> None:
    for command in (d.SetCapacity(-1), d.SetCapacity(1, occupied_outside=-1)):
        with pytest.raises(d.DomainError) as err:
            d.decide_capacity(d.Capacity("u1"), command)
        assert err.value.status == 422


def test_releasing_a_place_never_reserved_records_nothing() -> None:
    assert d.decide_capacity(d.Capacity("u1", 3), d.Release("r9", "withdrawn")) == []


# -- requests from casework, deadlines, places after an interruption ------------------------


def test_a_refused_request_settles_the_referral_id_once() -> None:
    refuse = d.RefuseRequest(
        "r1", "c1", "a1", "unknown_unit", Message(en="Unknown unit.", fr="Unité inconnue.")
    )
    [refused] = d.decide(None, refuse)
    assert isinstance(refused, ev.ReferralRequestRefused)
    assert (refused.code, refused.message_en, refused.message_fr) == (
        "unknown_unit",
        "Unknown unit.",
        "Unité inconnue.",
    )
    assert d.evolve(None, refused) is None  # no referral was made
    with pytest.raises(d.DomainError) as err:
        d.decide(state_after(), refuse)
    assert err.value.code == "already_exists"


def test_the_due_time_follows_the_configured_hours() -> None:
    made = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    hours = {"emergency": 2.5, "high": 72.0, "normal": 168.0}
    assert d.due_at(made, "emergency", hours) == made + timedelta(hours=2, minutes=30)
    assert d.due_at(made, "normal", hours) == datetime(2026, 3, 9, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "because"),
    [
        (d.Status.accepted, None),
        (d.Status.made, "not_accepted"),
        (d.Status.declined, "not_accepted"),
        (None, "not_accepted"),
        (d.Status.completed, "completed"),
        (d.Status.withdrawn, "withdrawn"),
    ],
)
def test_only_an_accepted_referral_keeps_its_place(
    status: d.Status | None, because: str | None
) -> None:
    assert d.place_to_release(status) == because
