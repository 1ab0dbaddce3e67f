"""The reference data is complete and bilingual."""

import pytest

from shared.reference import codes, frameworks, locations

pytestmark = pytest.mark.domain


def test_every_code_has_both_labels() -> None:
    c = codes()
    for table in (
        c.concerns,
        c.vulnerabilities,
        c.service_kinds,
        c.urgencies,
        c.closure_reasons,
        c.sexes,
        c.channels,
    ):
        assert table and all(m.en and m.fr for m in table.values())
    assert c.urgency_hours == {"emergency": 24, "high": 72, "normal": 168}
    assert [c.age_band(a) for a in (0, 4, 5, 14, 17, 18, None)] == [
        "0-4",
        "0-4",
        "5-9",
        "10-14",
        "15-17",
        "unknown",
        "unknown",
    ]


def test_benin_has_12_departments_and_77_communes() -> None:
    loc = locations()
    assert len(loc.at_level(0)) == 12 and len(loc.at_level(1)) == 77
    assert loc.top_level_of("bj-zou-za-kpota") == "bj-zou"
    assert loc.areas["bj-borgou-n-dali"].name == "N'Dali"


def test_ibcr_frameworks_have_their_27_competencies() -> None:
    fw = frameworks()
    per_sector = {s: sum(1 for c in fw.competencies.values() if c.sector == s) for s in fw.sectors}
    assert per_sector == {
        "security_forces": 6,
        "social_services": 7,
        "justice": 6,
        "deprived_of_liberty": 8,
    }
    assert fw.meets("satisfactory") and fw.meets("meets_expectations")
    assert not fw.meets("below_expectations")
