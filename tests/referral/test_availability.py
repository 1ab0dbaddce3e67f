"""Services offered against services expected, as a pure calculation."""

from __future__ import annotations

from services.referral.domain.availability import Member, availability, label

EXPECTED = ["medical", "psychological", "legal_aid", "transit_shelter"]


def test_a_unit_offers_its_services_while_it_can_take_a_child() -> None:
    members = [
        Member("hub", "Hub", ("legal_aid",), None),  # counts no places: always offers
        Member("care", "Care", ("medical", "psychological"), 1),
        Member("shelter", "Shelter", ("transit_shelter", "medical"), 0),  # full
    ]
    result = availability(EXPECTED, members)
    assert result.offered == ("medical", "psychological", "legal_aid")
    assert result.missing == ("transit_shelter",)
    assert (result.label.en, result.label.fr) == (
        "3 of 4 services available",
        "3 services sur 4 disponibles",
    )


def test_services_nobody_expects_do_not_count_and_expected_ones_count_once() -> None:
    members = [Member("u", "U", ("education", "medical"), 3)]
    result = availability(["medical", "medical"], members)
    assert (result.expected, result.offered, result.missing) == (("medical",), ("medical",), ())


def test_labels_agree_in_number_in_both_languages() -> None:
    assert (label(0, 1).en, label(0, 1).fr) == (
        "0 of 1 service available",
        "0 service sur 1 disponible",
    )
    assert (label(1, 2).en, label(1, 2).fr) == (
        "1 of 2 services available",
        "1 service sur 2 disponible",
    )
    assert label(11, 15).fr == "11 services sur 15 disponibles"
    assert availability([], []).label.en == "0 of 0 services available"
