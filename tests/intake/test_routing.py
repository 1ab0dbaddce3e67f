"""Where a case goes at screening (domain/routing.py): pure rules, no I/O."""

from __future__ import annotations

import pytest

from services.intake.domain.routing import KnownAgency, Receiver, choose_receiver
from shared.domain import DomainError

POLICE = KnownAgency(
    "police", {"bpm": frozenset({"judicial_protection"}), "desk": frozenset({"legal_aid"})}
)
HOSPITAL = KnownAgency("chu", {"ward": frozenset({"medical"})})


def route(**kw: object) -> Receiver:
    args: dict[str, object] = {
        "screener_agency": "hotline",
        "screener_unit": "plateau",
        "asked_agency": None,
        "asked_unit": None,
        "known": None,
    }
    args.update(kw)
    return choose_receiver(**args)  # type: ignore[arg-type]


def test_nothing_asked_keeps_the_case_with_the_screener() -> None:
    assert route() == Receiver("hotline", "plateau")


def test_an_agency_with_a_child_protection_unit_receives_it_with_or_without_a_unit() -> None:
    assert route(asked_agency="police", known=POLICE) == Receiver("police", None)
    assert route(asked_agency="police", asked_unit="bpm", known=POLICE) == Receiver("police", "bpm")


@pytest.mark.parametrize(
    ("asked", "known", "field", "code"),
    [
        ({"asked_agency": "ghost"}, None, "receiving_agency", "unknown_agency"),
        ({"asked_agency": "chu"}, HOSPITAL, "receiving_agency", "agency_without_child_protection"),
        (
            {"asked_agency": "police", "asked_unit": "ward"},
            POLICE,
            "receiving_unit",
            "unit_not_of_agency",
        ),
        (
            {"asked_agency": "police", "asked_unit": "desk"},
            POLICE,
            "receiving_unit",
            "unit_without_child_protection",
        ),
        ({"asked_unit": "bpm"}, None, "receiving_unit", "unit_not_of_agency"),
    ],
)
def test_refusals_name_the_field(
    asked: dict[str, str], known: KnownAgency | None, field: str, code: str
) -> None:
    with pytest.raises(DomainError) as refused:
        route(known=known, **asked)
    assert (refused.value.code, refused.value.field, refused.value.status) == (code, field, 422)
    assert refused.value.message.en and refused.value.message.fr
