"""Which site answers an accepted report (decision 0029, follow-up), without servers: the
site keeping the child's open case, or the one it was released to; without an open case, the
site that accepted the report."""

from __future__ import annotations

import pytest

from services.casework.domain.sites import OpenCaseSite, answering_site, may_attach_here

pytestmark = pytest.mark.domain


def test_without_an_open_case_the_reports_own_site_answers() -> None:
    assert answering_site("parakou", None) == "parakou"
    assert answering_site("hq", None) == "hq"


def test_the_site_keeping_the_open_case_answers_wherever_the_report_was_screened() -> None:
    assert answering_site("parakou", OpenCaseSite("hq")) == "hq"
    assert answering_site("hq", OpenCaseSite("hq")) == "hq"
    assert answering_site("hq", OpenCaseSite("parakou")) == "parakou"


def test_a_released_case_is_the_receivers_once_it_has_taken_it_over() -> None:
    released = OpenCaseSite("hq", released_to="parakou")
    assert answering_site("hq", released) == "parakou"  # the hub may change it no more
    assert not may_attach_here(released, "hq")
    assert not may_attach_here(released, "parakou")  # not taken over yet: it waits
    assert may_attach_here(OpenCaseSite("parakou"), "parakou")
    assert not may_attach_here(OpenCaseSite("parakou"), "hq")
