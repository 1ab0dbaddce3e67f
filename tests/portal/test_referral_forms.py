"""The referral form read without I/O: consent given (by whom, when, in the country's time) or
not sought (why); details sent only for the fields shared; the unit's opening hours read per
day; the receiving unit's lines of the preview."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from services.portal.web import i18n
from services.portal.web.routes_referrals import preview_rows, refer_body
from services.portal.web.routes_units import hours_text

pytestmark = pytest.mark.domain

CASE = {"case_id": "case-1", "child_id": "child-1"}


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    language = i18n.current_language.set("en")
    zone = i18n.current_zone.set(ZoneInfo("Africa/Porto-Novo"))
    yield
    i18n.current_zone.reset(zone)
    i18n.current_language.reset(language)


def form(**values: Any) -> tuple[Any, Any]:
    def get(name: str) -> str:
        value = values.get(name.replace(".", "__"), "")
        return value[0] if isinstance(value, list) else str(value)

    def all_of(name: str) -> list[str]:
        value = values.get(name.replace(".", "__"), [])
        return value if isinstance(value, list) else [value]

    return get, all_of


def test_consent_given_names_who_and_when_in_the_countrys_time() -> None:
    get, all_of = form(
        consent__given="yes",
        consent__given_by="guardian",
        consent__given_at="2026-12-01T10:30",
        consent__reason_not_sought="ignored when given",
        shared_fields=["child_sex"],
    )
    body = refer_body(CASE, get, all_of)
    assert body["consent"] == {
        "given": True,
        "given_by": "guardian",
        "given_at": "2026-12-01T10:30:00+01:00",
    }
    assert body["case_id"] == "case-1" and body["child_id"] == "child-1"


def test_consent_not_sought_says_why_and_details_follow_the_shared_fields() -> None:
    get, all_of = form(
        consent__given="no",
        consent__reason_not_sought="Emergency, no guardian reachable",
        shared_fields=["child_age_band", "concerns", "urgency", "not-a-field"],
        details__child_age_band="10-14",
        details__child_sex="female",  # typed, but not shared: not sent
        details__concerns=["neglect"],
        details__contact="+229 00 00 00 00",  # idem
    )
    body = refer_body(CASE, get, all_of)
    assert body["consent"] == {
        "given": False,
        "reason_not_sought": "Emergency, no guardian reachable",
    }
    assert body["shared_fields"] == ["child_age_band", "concerns", "urgency"]
    assert body["details"] == {"child_age_band": "10-14", "concerns": ["neglect"]}


def test_no_answer_on_consent_sends_none_for_the_service_to_refuse() -> None:
    get, all_of = form(shared_fields=["urgency"])
    assert refer_body(CASE, get, all_of)["consent"] == {}


def test_the_preview_lists_only_what_the_unit_sees() -> None:
    rows = dict(
        preview_rows(
            {
                "service_kind": "psychological",
                "from_agency": "cps-djougou",
                "due_at": "2026-12-03T09:00:00Z",
                "child_sex": "female",
                "contact": None,
            }
        )
    )
    assert rows["The child's sex"] == "Female"
    assert rows["A contact for the unit"] == "(shared, left empty)"
    assert "The child's age band" not in rows and "Why the child is referred" not in rows


def test_opening_hours_per_day() -> None:
    hours = {"mon": ["08:00-12:00", "14:00-17:00"]}
    assert hours_text(hours, "mon") == "08:00-12:00, 14:00-17:00"
    assert hours_text(hours, "sun") == "" and hours_text(None, "mon") == ""
