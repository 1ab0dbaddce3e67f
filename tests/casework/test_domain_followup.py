"""The pure domain of direct opening, services, visits, notes, transfers and plan referral
requests: every refused transition, and the events of the allowed ones."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from contracts import casework as ev
from services.casework import domain as d
from tests.casework.test_domain import (
    NOW,
    RULES,
    apply,
    assign,
    at_stage,
    names,
    opened,
    refused,
)

TODAY = NOW.date()
FOUND = ev.IdentifiedChild(name="A child", sex="male", age_min=10, age_max=13)


def direct(**kw: object) -> d.OpenDirectly:
    values: dict[str, object] = {
        "case_id": "case-d",
        "child_id": "child-d",
        "child": FOUND,
        "agency": "police-cotonou",
        "unit": "brigade-1",
        "commune": "bj-littoral-cotonou",
        "concerns": ("street_children",),
        "urgency": "high",
        "immediate_danger": False,
        "found_at": NOW,
    }
    values.update(kw)
    return d.OpenDirectly(**values)  # type: ignore[arg-type]


def transfer(
    to: str = "upe-rabat", units: frozenset[str] | None = frozenset({"upe-1"}), **kw: object
) -> d.RequestTransfer:
    values: dict[str, object] = {
        "transfer_id": "t-1",
        "to_agency": to,
        "to_unit": None,
        "reason": "The family moved to Rabat",
        "to_agency_units": units,
    }
    values.update(kw)
    return d.RequestTransfer(**values)  # type: ignore[arg-type]


def answer(
    accept: bool, agency: str = "upe-rabat", tid: str = "t-1", reason: str | None = None
) -> d.AnswerTransfer:
    return d.AnswerTransfer(tid, accept, "sup-upe", agency, reason)


# -- direct opening ------------------------------------------------------------------------


def test_direct_opening_writes_the_case_and_the_childs_description_together() -> None:
    opened_, identified = d.decide(d.CaseState(), direct(), RULES)
    assert isinstance(opened_, ev.CaseOpened) and isinstance(identified, ev.ChildIdentified)
    assert opened_.opened_directly and opened_.report_id is None
    assert (opened_.sex, opened_.age_band, opened_.initial_risk) == ("male", "10-14", "medium")
    assert opened_.received_at == "2026-03-01T12:00:00Z"
    assert identified.child_id == opened_.child_id == "child-d"
    assert identified.details == FOUND and identified.found_at == opened_.received_at
    state = apply(d.CaseState(), direct())
    assert state.exists and state.agency == "police-cotonou" and state.unit == "brigade-1"
    refused(state, direct(), "case_exists")


def test_direct_opening_risk_follows_danger_and_the_workers_judgement() -> None:
    [case, _] = d.decide(d.CaseState(), direct(immediate_danger=True), RULES)
    assert isinstance(case, ev.CaseOpened) and case.initial_risk == "high"
    [case, _] = d.decide(d.CaseState(), direct(initial_risk="high"), RULES)
    assert isinstance(case, ev.CaseOpened) and case.initial_risk == "high"
    error = refused(
        d.CaseState(), direct(immediate_danger=True, initial_risk="low"), "danger_is_high_risk", 422
    )
    assert error.field == "initial_risk"
    refused(d.CaseState(), direct(initial_risk="extreme"), "unknown_risk", 422)


@pytest.mark.parametrize(
    ("child", "band"),
    [
        (ev.IdentifiedChild(date_of_birth="2020-03-02"), "5-9"),  # turns 6 the day after
        (ev.IdentifiedChild(date_of_birth="2020-03-01"), "5-9"),
        (ev.IdentifiedChild(date_of_birth="2021-03-02"), "0-4"),
        (ev.IdentifiedChild(age_years=15), "15-17"),
        (ev.IdentifiedChild(age_min=9, age_max=11), "unknown"),  # spans two bands
        (ev.IdentifiedChild(), "unknown"),
    ],
)
def test_the_age_band_is_what_is_known_on_the_day_the_child_was_found(
    child: ev.IdentifiedChild, band: str
) -> None:
    assert d.age_band_of(child, TODAY, RULES) == band


# -- services and visits -------------------------------------------------------------------


def planned_case() -> d.CaseState:
    state = apply(at_stage("case_plan"), d.AddGoal("g", "Safe"))
    own = d.AddAction("own", "g", "Counselling", "ocpm", "ocpm-psy", "psychological", TODAY)
    other = d.AddAction("ext", "g", "Shelter", "ctc", "ctc-1", "transit_shelter", TODAY, "ref-9")
    return apply(apply(state, own), other)


def service(**kw: object) -> d.DeliverService:
    values: dict[str, object] = {
        "service_id": "s-1",
        "service_kind": "medical",
        "delivered_on": TODAY,
        "unit": "ocpm-cotonou",
    }
    values.update(kw)
    return d.DeliverService(**values)  # type: ignore[arg-type]


def test_a_service_counts_for_the_agency_that_delivered_it() -> None:
    state = planned_case()
    [own] = d.decide(opened(), service(), RULES)
    assert isinstance(own, ev.ServiceDelivered)
    assert (own.agency, own.unit, own.child_id) == ("ocpm", "ocpm-cotonou", "child-1")
    [by_action] = d.decide(state, service(action_id="ext", service_kind="transit_shelter"), RULES)
    assert isinstance(by_action, ev.ServiceDelivered)
    assert (by_action.agency, by_action.unit, by_action.referral_id) == ("ctc", "ctc-1", "ref-9")
    known = {"ref-direct": ("hospital", "hosp-1")}
    [by_referral] = d.decide(state, service(referral_id="ref-direct", known_referrals=known), RULES)
    assert isinstance(by_referral, ev.ServiceDelivered) and by_referral.agency == "hospital"


def test_service_refusals() -> None:
    state = planned_case()
    refused(state, service(service_kind="astrology"), "unknown_service_kind", 422)
    refused(state, service(action_id="nope"), "unknown_action", 422)
    refused(state, service(referral_id="ref-404"), "unknown_referral", 422)
    refused(state, service(action_id="own", referral_id="ref-9"), "referral_not_of_action", 422)
    asked = apply(state, d.RequestClosure("goals_met", "w"), actor="w")
    assert names(d.decide(asked, service(), RULES)) == ["ServiceDelivered"]  # work goes on
    closed = apply(asked, d.DecideClosure(True, "sup-1", True))
    refused(closed, service(), "case_closed")


def test_a_visit_reassesses_risk_and_schedules_the_next_one_which_is_flagged_once() -> None:
    state = opened()
    visit = d.RecordVisit("v-1", TODAY, True, "high", "Well", TODAY + timedelta(days=14))
    state = apply(state, visit)
    assert (state.risk_level, state.next_visit_due) == ("high", "2026-03-15")
    refused(state, d.RecordVisit("v", TODAY, True, "extreme"), "unknown_risk", 422)
    same_day = d.RecordVisit("v", TODAY, True, next_visit_due=TODAY)
    assert refused(state, same_day, "next_visit_not_after", 422).field == "next_visit_due"
    # Due on the 15th: still possible that day, missed from the 16th, and flagged only once.
    assert d.decide(state, d.FlagVisitOverdue(date(2026, 3, 15)), RULES) == []
    [late] = d.decide(state, d.FlagVisitOverdue(date(2026, 3, 16)), RULES)
    assert isinstance(late, ev.FollowUpVisitOverdue)
    assert (late.visit_id, late.due_on) == ("v-1", "2026-03-15")
    flagged = apply(state, d.FlagVisitOverdue(date(2026, 3, 16)))
    assert d.decide(flagged, d.FlagVisitOverdue(date(2026, 4, 1)), RULES) == []
    # The next visit clears the flag and schedules anew; one without a date schedules none.
    again = apply(flagged, d.RecordVisit("v-2", date(2026, 3, 20), True))
    assert again.next_visit_due is None and not again.visit_overdue_flagged
    assert again.risk_level == "high"  # not reassessed: unchanged
    assert d.decide(again, d.FlagVisitOverdue(date(2027, 1, 1)), RULES) == []


def test_a_closed_case_has_no_visit_due() -> None:
    state = apply(
        at_stage("follow_up"),
        d.RecordVisit("v", TODAY, True, next_visit_due=TODAY + timedelta(days=7)),
    )
    asked = apply(state, d.RequestClosure("goals_met", "w"), actor="w")
    closed = apply(asked, d.DecideClosure(True, "sup-1", True))
    assert d.decide(closed, d.FlagVisitOverdue(date(2027, 1, 1)), RULES) == []
    refused(closed, d.RecordVisit("v2", TODAY, True), "case_closed")


# -- notes ---------------------------------------------------------------------------------


def test_note_refusals() -> None:
    refused(opened(), d.AddNote("n", "secret", "x"), "unknown_sensitivity", 422)
    refused(opened(), d.AddNote("n", "normal", "   "), "empty_note", 422)
    [note] = d.decide(opened(), d.AddNote("n", "confidential", "Text"), RULES)
    assert isinstance(note, ev.CaseNoteAdded) and "text" in note.sensitive_fields


W, S = "worker-1", "sup-1"
READERS = {
    "assigned worker": d.NoteReader(W),
    "assigned supervisor": d.NoteReader(S, supervisor=True),
    "another supervisor": d.NoteReader("sup-2", supervisor=True),
    "another worker": d.NoteReader("worker-2"),
    "auditor": d.NoteReader("aud", auditor=True),
}


@pytest.mark.parametrize(
    ("sensitivity", "readers"),
    [
        ("normal", set(READERS)),
        ("restricted", {"assigned worker", "assigned supervisor", "another supervisor", "auditor"}),
        ("confidential", {"assigned supervisor", "auditor"}),
    ],
)
def test_who_reads_a_note(sensitivity: str, readers: set[str]) -> None:
    def reads(reader: d.NoteReader, author: str = "someone") -> bool:
        return d.may_read_note(sensitivity, author, reader, worker_id=W, supervisor_id=S)

    assert {name for name, reader in READERS.items() if reads(reader)} == readers
    assert reads(d.NoteReader("worker-2"), author="worker-2")  # the author always reads
    # No supervisor assigned yet: a confidential note is the author's (and auditors') alone.
    assert not d.may_read_note("confidential", "a", d.NoteReader("sup-2", supervisor=True),
                               worker_id=None, supervisor_id=None)  # fmt: skip


# -- transfers -----------------------------------------------------------------------------


def test_transfer_request_refusals() -> None:
    state = apply(opened(), assign())
    refused(state, transfer(to="ocpm"), "same_agency", 422)
    refused(state, transfer(units=None), "unknown_agency", 422)
    assert refused(state, transfer(to_unit="ocpm-1"), "unit_not_in_agency", 422).field == "to_unit"
    refused(state, transfer(reason=" "), "reason_required", 422)
    pending = apply(state, transfer(to_unit="upe-1"))
    refused(pending, transfer(transfer_id="t-2"), "transfer_pending")
    refused(pending, d.RequestClosure("moved", "w"), "transfer_pending")
    asked = apply(state, d.RequestClosure("moved", "w"), actor="w")
    refused(asked, transfer(), "closure_pending")
    closed = apply(asked, d.DecideClosure(True, "sup-1", True))
    refused(closed, transfer(), "case_closed")


def test_an_accepted_transfer_moves_the_case_and_clears_the_assignment() -> None:
    state = apply(apply(opened(), assign()), transfer(to_unit="upe-1"))
    assert state.agency == "ocpm" and state.pending_transfer is not None
    refused(state, answer(True, agency="ocpm"), "not_receiving_agency", 403)
    refused(state, answer(True, tid="t-404"), "transfer_not_found", 404)
    [accepted] = d.decide(state, answer(True), RULES)
    assert isinstance(accepted, ev.TransferAccepted)
    assert (accepted.from_agency, accepted.to_agency, accepted.to_unit) == (
        "ocpm",
        "upe-rabat",
        "upe-1",
    )
    moved = apply(state, answer(True))
    assert (moved.agency, moved.unit, moved.worker_id, moved.supervisor_id) == (
        "upe-rabat",
        "upe-1",
        None,
        None,
    )
    refused(moved, answer(True), "transfer_not_pending")
    refused(moved, answer(False, reason="No"), "transfer_not_pending")
    # The new owner may transfer on, even back; the old one is just another agency now.
    again = apply(moved, transfer(to="ocpm", transfer_id="t-2", units=frozenset()))
    assert again.pending_transfer is not None and again.pending_transfer.to_agency == "ocpm"


def test_a_declined_or_withdrawn_transfer_cannot_be_accepted() -> None:
    state = apply(opened(), transfer())
    refused(state, answer(False), "reason_required", 422)
    [declined] = d.decide(state, answer(False, reason="No place"), RULES)
    assert isinstance(declined, ev.TransferDeclined) and declined.reason == "No place"
    after = apply(state, answer(False, reason="No place"))
    assert after.agency == "ocpm" and after.pending_transfer is None
    refused(after, answer(True), "transfer_not_pending")
    refused(after, d.WithdrawTransfer("t-1", "x"), "transfer_not_pending")
    withdrawn = apply(
        apply(after, transfer(transfer_id="t-2")), d.WithdrawTransfer("t-2", "Moved back")
    )
    assert withdrawn.pending_transfer is None
    refused(withdrawn, answer(True, tid="t-2"), "transfer_not_pending")


# -- plan actions for another agency -------------------------------------------------------


CONSENT = ev.RequestedConsent(given=True, given_by="child", given_at="2026-03-01T10:00:00Z")


def request(referral_id: str = "ref-new") -> d.ReferralRequest:
    return d.ReferralRequest(referral_id, "ctc-1", "high", "Needs shelter", CONSENT, ("urgency",))


def action(**kw: object) -> d.AddAction:
    values: dict[str, object] = {
        "action_id": "a-1",
        "goal_id": "g",
        "text": "Shelter",
        "responsible_agency": "ctc",
        "responsible_unit": None,
        "service_kind": "transit_shelter",
        "due_on": TODAY,
        "request": request(),
    }
    values.update(kw)
    return d.AddAction(**values)  # type: ignore[arg-type]


def test_an_action_for_another_agency_asks_referral_in_the_same_batch() -> None:
    state = apply(at_stage("case_plan"), d.AddGoal("g", "Safe"))
    added, asked = d.decide(state, action(), RULES)
    assert isinstance(added, ev.PlanActionAdded) and isinstance(asked, ev.ReferralRequested)
    assert added.referral_id == asked.referral_id == "ref-new"
    assert (added.responsible_unit, asked.to_unit, asked.action_id) == ("ctc-1", "ctc-1", "a-1")
    assert (asked.child_id, asked.from_agency, asked.service_kind) == (
        "child-1",
        "ocpm",
        "transit_shelter",
    )
    assert asked.consent == CONSENT and asked.shared_fields == ["urgency"]
    after = apply(state, action())
    assert after.planned["a-1"].referral_id == "ref-new"


def test_referral_request_refusals() -> None:
    state = apply(at_stage("case_plan"), d.AddGoal("g", "Safe"))
    refused(state, action(responsible_agency="ocpm"), "request_for_own_agency", 422)
    refused(state, action(referral_id="ref-old"), "referral_and_request", 422)
    refused(state, action(responsible_unit="ctc-2"), "unit_mismatch", 422)
    refused(state, action(service_kind="astrology"), "unknown_service_kind", 422)
    refused(at_stage("best_interests"), action(), "plan_not_started")
