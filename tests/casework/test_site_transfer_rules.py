"""Moving a case to another site (decision 0030), without servers: the supervisor's release
is refused when it names this site or a site this one does not know, has no reason, or an
agency transfer awaits its answer;
neither event of the pair changes the case; the take-over inbox answers a release only at the
site it names."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import pytest

from contracts import casework as ev
from services.casework import domain as d
from services.casework.app.site_transfer import site_taker
from tests.casework.test_domain import RULES, apply, assign, names, opened, refused
from tests.casework.test_domain_followup import transfer

pytestmark = pytest.mark.domain


KNOWN = frozenset({"hq", "parakou", "natitingou"})


def release(
    to: str = "parakou",
    reason: str = "The family moved north",
    here: str = "hq",
    known: frozenset[str] = KNOWN,
) -> d.Command:
    return d.ReleaseToSite(to_site=to, reason=reason, here=here, known=known)


def test_a_release_names_the_receiving_site_and_keeps_the_reason() -> None:
    state = apply(opened(), assign())
    (event,) = d.decide(state, release(reason="  The family moved north "), RULES)
    assert isinstance(event, ev.CaseReleasedToSite)
    assert (event.to_site, event.reason) == ("parakou", "The family moved north")
    assert event.sensitive_fields == frozenset({"reason"})


def test_a_release_is_refused_with_the_field_at_fault_in_both_languages() -> None:
    state = apply(opened(), assign())
    assert refused(state, release(to="hq"), "same_site", 422).field == "to_site"
    assert refused(state, release(to=" "), "same_site", 422).field == "to_site"
    assert refused(state, release(reason=" "), "reason_required", 422).field == "reason"
    unknown = refused(state, release(to="parakuo"), "unknown_site", 422)
    assert unknown.field == "to_site"
    assert "parakuo" in unknown.message.en and "natitingou, parakou" in unknown.message.en
    assert "parakuo" in unknown.message.fr and "n'est pas connu" in unknown.message.fr
    alone = refused(state, release(known=frozenset({"hq"})), "unknown_site", 422)
    assert "(none)" in alone.message.en and "(aucun)" in alone.message.fr
    asked = apply(state, transfer(to_unit="upe-1"))
    refused(asked, release(), "transfer_pending")  # settle the agency transfer where it was asked
    refused(d.CaseState(), release(), "case_not_found", 404)


def test_the_pair_changes_nothing_of_the_work_and_a_case_never_goes_back() -> None:
    state = apply(opened(), assign())
    released = d.evolve(state, ev.CaseReleasedToSite(to_site="parakou", reason="moved"))
    taken = d.evolve(released, ev.CaseTakenOverFromSite(from_site="hq", released_id="e-1"))
    assert released == state and taken == replace(state, former_sites=frozenset({"hq"}))
    # The hub's log already holds the case's first events: it cannot take it over again.
    back = release(to="hq", here="parakou")
    assert refused(taken, back, "former_site", 422).field == "to_site"
    assert names(d.decide(taken, release(to="natitingou", here="parakou"), RULES)) == [
        "CaseReleasedToSite"
    ]
    assert names(d.decide(taken, d.AddNote("n-1", "normal", "A call"), RULES)) == ["CaseNoteAdded"]


@pytest.mark.parametrize(
    ("here", "answers"), [("parakou", True), ("hq", False), ("natitingou", False)]
)
def test_the_take_over_inbox_answers_a_release_only_at_the_site_it_names(
    here: str, answers: bool
) -> None:
    inbox = site_taker()
    row = SimpleNamespace(case_id="case-1", site="hq", released_to="parakou")
    ports = SimpleNamespace(settings=SimpleNamespace(site=here))
    assert (inbox.elsewhere(ports, row) is None) is answers  # type: ignore[arg-type]
