"""The public models: only safe types can be declared, vocabularies follow the domain's, and
every internal event type is either published in a public shape or deliberately not."""

from __future__ import annotations

from datetime import datetime

import pytest

import contracts
from contracts.public.base import (
    PSEUDONYM_PATTERN,
    Pseudonym,
    Pseudonyms,
    PublicData,
    check_safe,
    public_registry,
)
from contracts.public.casework import DecisionKind, NotHeardReason, Stage
from services.casework.domain import DECISION_KINDS, NOT_HEARD_REASONS, STAGES
from shared.events import registry

pytestmark = pytest.mark.domain

# Decided in decision 0021: what stays private, and why in a word.
NOT_PUBLISHED = {
    "intake.ChildRecorded": "the child's description",
    "intake.ChildDetailsCorrected": "the child's description",
    "intake.ChildCorrectionRefused": "about a correction of the child's description",
    "intake.DuplicateSuggested": "why two children look alike (names)",
    "intake.DuplicateRejected": "only a note",
    "intake.MatchWeightsEstimated": "the matcher's own tuning, learned from decisions on children",
    "intake.ComplaintFiled": "about a person, in the complainant's words",
    "intake.ComplaintAcknowledged": "a complaint",
    "intake.ComplaintResolved": "a complaint",
    "referral.StaffMemberRegistered": "a person",
    "referral.CompetencyAssessed": "a person's assessment",
    "referral.ReferralDetailsShared": "the child's details for the receiving unit",
    "referral.ReferralRequestRefused": "an answer to casework, in words",
    "casework.ChildIdentified": "the child's description",
    "casework.ChildDetailsReported": "the child's description",
    "casework.CaseNoteAdded": "a note",
    "casework.ReferralRequested": "published as referral's ReferralMade",
    "casework.CaseReleasedToSite": "which instance keeps a case is deployment routing, in words",
    "casework.CaseTakenOverFromSite": "which instance keeps a case is deployment routing",
}


def test_every_event_type_is_published_or_deliberately_private() -> None:
    contracts.load_all()
    internal = {
        f"{m.context}.{m.name}"
        for m in registry.all()
        if m.context in ("intake", "referral", "casework")
        and m.__module__.startswith("contracts.")  # not the probes some tests register
    }
    public = {f"{m.source.context}.{m.source.name}" for m in public_registry.all()}
    assert public & set(NOT_PUBLISHED) == set()
    undecided = internal - public - set(NOT_PUBLISHED)
    assert undecided == set(), (
        f"decide whether {sorted(undecided)} are published: give each a public model in "
        "contracts/public, or list it in NOT_PUBLISHED with the reason (decision 0021)"
    )
    assert set(NOT_PUBLISHED) <= internal


@pytest.mark.parametrize("annotation", [str, str | None, list[str], datetime, dict[str, int]])
def test_a_field_that_could_carry_free_text_is_refused(annotation: object) -> None:
    model = type(
        "Leaky", (PublicData,), {"__annotations__": {"text": annotation}, "__module__": __name__}
    )
    with pytest.raises(TypeError, match=r"Leaky\.text"):
        check_safe(model)


def test_safe_fields_pass_and_every_public_model_is_safe() -> None:
    model = type(
        "Fine",
        (PublicData,),
        {"__annotations__": {"who": Pseudonym, "many": list[Pseudonym | None]}},
    )
    check_safe(model)
    for public in public_registry.all():
        check_safe(public)


def test_codes_outside_the_vocabulary_become_other() -> None:
    class Sample(PublicData):
        stage: Stage
        kind: DecisionKind
        reason: NotHeardReason

    sample = Sample(stage="Aminata", kind="placement", reason="age")
    assert (sample.stage, sample.kind, sample.reason) == ("other", "placement", "age")
    # The public vocabularies know every value casework decides with.
    for stage in STAGES:
        assert Sample(stage=stage, kind="x", reason="x").stage == stage
    for kind in DECISION_KINDS:
        assert Sample(stage="x", kind=kind, reason="x").kind == kind
    for reason in NOT_HEARD_REASONS:
        assert Sample(stage="x", kind="x", reason=reason).reason == reason


def test_pseudonyms_are_keyed_stable_and_kind_separated() -> None:
    import re

    one, two = Pseudonyms(b"k" * 32), Pseudonyms(b"j" * 32)
    assert one.of("case", "c-1") == one.of("case", "c-1")
    assert one.of("case", "c-1") != two.of("case", "c-1")
    assert one.of("case", "c-1") != one.of("child", "c-1")
    assert "c-1" not in one.of("case", "c-1")
    assert re.fullmatch(PSEUDONYM_PATTERN, one.of("case", "c-1"))
