"""The referral settings: deadlines, escalation, the capacity sweep's grace and the country's
time zone come from the environment, and a wrong value stops the start-up with a message
naming the variable."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from services.referral.config import ReferralConfig
from services.referral.domain import parse_time
from shared.config import Settings
from tests.referral.conftest import Starter, referral_body, seed, worker

pytestmark = pytest.mark.connected


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("referral_due_hours_emergency", "0"),
        ("referral_due_hours_high", "-72"),
        ("referral_due_hours_normal", "nan"),
        ("referral_due_hours_normal", "1e9"),
        ("referral_escalate_after_hours", "0"),
        ("referral_reservation_grace_minutes", "-1"),
    ],
)
def test_non_positive_durations_are_refused_at_start_up(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    variable = f"RELAIS_{name.upper()}"
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError) as err:
        Settings()
    assert f"{variable} must be a positive number of" in str(err.value)


def test_words_instead_of_numbers_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAIS_REFERRAL_DUE_HOURS_HIGH", "three days")
    with pytest.raises(ValidationError) as err:
        Settings()
    assert "referral_due_hours_high" in str(err.value)


def test_an_unknown_time_zone_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAIS_TIME_ZONE", "Africa/Atlantis")
    with pytest.raises(ValidationError) as err:
        Settings()
    assert "RELAIS_TIME_ZONE: unknown time zone 'Africa/Atlantis'" in str(err.value)


def test_the_settings_reach_the_referral_config(monkeypatch: pytest.MonkeyPatch) -> None:
    defaults = ReferralConfig.from_settings(Settings())
    assert defaults.deadline_hours == {"emergency": 24, "high": 72, "normal": 168}
    assert defaults.escalate_after == timedelta(hours=24)
    assert defaults.time_zone == "Africa/Porto-Novo"
    assert ReferralConfig().deadline_hours == defaults.deadline_hours
    for variable, value in (
        ("RELAIS_REFERRAL_DUE_HOURS_EMERGENCY", "12"),
        ("RELAIS_REFERRAL_DUE_HOURS_HIGH", "48.5"),
        ("RELAIS_REFERRAL_ESCALATE_AFTER_HOURS", "6"),
        ("RELAIS_REFERRAL_RESERVATION_GRACE_MINUTES", "30"),
        ("RELAIS_TIME_ZONE", "Africa/Casablanca"),
    ):
        monkeypatch.setenv(variable, value)
    config = ReferralConfig.from_settings(Settings())
    assert config.deadline_hours == {"emergency": 12, "high": 48.5, "normal": 168}
    assert (config.escalate_after, config.reservation_grace) == (
        timedelta(hours=6),
        timedelta(minutes=30),
    )
    assert config.zone.key == "Africa/Casablanca"


async def test_the_deployed_service_takes_its_deadlines_and_zone_from_settings(
    start_service: Starter,
) -> None:
    svc = await start_service(
        clocked=False,
        referral_due_hours_emergency=2,
        referral_due_hours_normal=0.5,
        time_zone="UTC",
    )
    await seed(svc)
    for urgency, hours in (("emergency", 2), ("normal", 0.5)):
        answer = await svc.client.post(
            "/referrals",
            json=referral_body(urgency=urgency, case_id=f"case-{urgency}"),
            headers=worker(svc),
        )
        assert answer.status_code == 201, answer.text
        made = answer.json()
        delay = parse_time(made["due_at"]) - parse_time(made["made_at"])
        assert abs(delay - timedelta(hours=hours)) < timedelta(minutes=1), (urgency, delay)
    # 07:30 UTC, read in UTC: the 08:00-17:00 units have not opened yet.
    found = await svc.client.get(
        "/search",
        params={"service_kind": "psychological", "at": "2026-03-02T07:30:00Z"},
        headers=worker(svc),
    )
    assert {i["open_now"] for i in found.json()["items"]} == {False}
