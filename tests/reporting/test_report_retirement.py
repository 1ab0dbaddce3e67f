"""Retiring a periodic report: only an agency administrator may, once, with a reason and a
last period that fits the report; the policy then publishes up to that period and nothing
after, and the lists say the report is retired."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nats.aio.client import Client as NATS

from services.reporting.app.reports import ReportPolicy
from services.reporting.web.reports import report_clock
from tests.reporting.reports_support import DEFINITION, stored, write_reports
from tests.reporting.stats_support import Reporting, caught_up, running, settings_for

APRIL_5 = datetime(2026, 4, 5, 9, tzinfo=UTC)
RETIRED = "audit.hq.statdefinition.*.StatisticalReportRetired"
PUBLISHED = "audit.hq.statreport.*.StatisticalReportPublished"


def at(moment: datetime) -> Any:
    def clock() -> datetime:
        return moment

    return clock


async def define(svc: Reporting, **change: Any) -> str:
    made = await svc.client.post(
        "/statistics/reports", json={**DEFINITION, **change}, headers=svc.as_("agency_admin")
    )
    assert made.status_code == 201, made.text
    return str(made.json()["definition_id"])


def retirement(definition_id: str) -> str:
    return f"/statistics/reports/{definition_id}/retirement"


async def test_a_retired_report_is_published_up_to_its_last_period_and_never_after(
    nats_url: str, pg_server_url: str, nc: NATS, tmp_path: Path
) -> None:
    await write_reports(nc)
    async with running(settings_for(nats_url, pg_server_url, tmp_path)) as svc:
        await caught_up(svc.runtime, nc)
        svc.app.dependency_overrides[report_clock] = at(APRIL_5)
        until_february = await define(svc)
        by_default = await define(svc, title_en="Second", title_fr="Deuxième")
        # Defined for April and retired in April: no period of it ever closed.
        nothing_owed = await define(svc, title_en="Third", title_fr="Troisième", first_period=None)
        admin = svc.as_("agency_admin", lang="en")

        explicit = await svc.client.post(
            retirement(until_february),
            json={"reason": "Replaced by the quarterly bulletin", "last_period": "2026-02"},
            headers=admin,
        )
        assert explicit.status_code == 200, explicit.text
        answer = explicit.json()
        assert answer["status"] == "retired" and answer["last_period"] == "2026-02"
        assert answer["retired_at"] == "2026-04-05T09:00:00Z"
        assert answer["retirement_reason"] == "Replaced by the quarterly bulletin"
        defaulted = await svc.client.post(
            retirement(by_default), json={"reason": "  No longer needed  "}, headers=admin
        )
        assert defaulted.status_code == 200, defaulted.text
        # The last period closed on April 5th, and the reason without its stray spaces.
        assert defaulted.json()["last_period"] == "2026-03"
        assert defaulted.json()["retirement_reason"] == "No longer needed"
        none = await svc.client.post(
            retirement(nothing_owed), json={"reason": "A mistake"}, headers=admin
        )
        assert none.status_code == 200 and none.json()["last_period"] is None

        later = ReportPolicy(clock=at(datetime(2026, 7, 5, 9, tzinfo=UTC)))
        assert await later.run_once(svc.runtime) == 5
        assert await later.run_once(svc.runtime) == 0
        published = sorted((p["definition_id"], p["period"]) for p in await stored(nc, PUBLISHED))
        assert published == sorted(
            [
                (until_february, "2026-01"),
                (until_february, "2026-02"),
                (by_default, "2026-01"),
                (by_default, "2026-02"),
                (by_default, "2026-03"),
            ]
        )

        listed = await svc.client.get("/statistics/reports", headers=svc.as_("statistician"))
        status = {i["definition_id"]: i for i in listed.json()["items"]}
        assert {i["status"] for i in status.values()} == {"retired"}
        assert [p["period"] for p in status[until_february]["publications"]] == [
            "2026-01",
            "2026-02",
        ]
        assert status[nothing_owed]["publications"] == []
        events = await stored(nc, RETIRED)
        assert len(events) == 3
        assert {e["last_period"] for e in events} == {"2026-02", "2026-03", None}

    # A fresh database replays the log into the same answers.
    async with running(settings_for(nats_url, pg_server_url, tmp_path)) as fresh:
        await caught_up(fresh.runtime, nc)
        again = await fresh.client.get("/statistics/reports", headers=fresh.as_("statistician"))
        assert {i["definition_id"]: i for i in again.json()["items"]} == status


async def test_a_report_is_retired_once_and_a_retry_is_answered_as_the_first_time(
    nats_url: str, pg_server_url: str, nc: NATS, tmp_path: Path
) -> None:
    await write_reports(nc)
    async with running(settings_for(nats_url, pg_server_url, tmp_path)) as svc:
        await caught_up(svc.runtime, nc)
        definition_id = await define(svc)
        body = {"reason": "Ended"}
        first = await svc.client.post(
            retirement(definition_id),
            json=body,
            headers=svc.as_("agency_admin", **{"Idempotency-Key": "retire-1"}),
        )
        assert first.status_code == 200, first.text
        retry = await svc.client.post(
            retirement(definition_id),
            json=body,
            headers=svc.as_("agency_admin", **{"Idempotency-Key": "retire-1"}),
        )
        assert retry.status_code == 200, retry.text
        assert retry.json() == first.json()
        for lang, words in (("en", "already retired"), ("fr", "déjà retiré")):
            for extra in ({}, {"Idempotency-Key": "retire-2"}):
                twice = await svc.client.post(
                    retirement(definition_id),
                    json={"reason": "Again"},
                    headers=svc.as_("agency_admin", lang=lang, **extra),
                )
                assert twice.status_code == 409, twice.text
                error = twice.json()["error"]
                assert error["code"] == "report_already_retired"
                assert words in error["message"]
                assert error["retired_at"] == first.json()["retired_at"]
        assert len(await stored(nc, RETIRED)) == 1

        # Two administrators at once: the server keeps one retirement, the other hears so.
        other = await define(svc, title_en="Other", title_fr="Autre")
        racing = await asyncio.gather(
            *(
                svc.client.post(
                    retirement(other), json={"reason": f"By {n}"}, headers=svc.as_("agency_admin")
                )
                for n in range(2)
            )
        )
        assert sorted(r.status_code for r in racing) == [200, 409]
        assert len(await stored(nc, RETIRED)) == 2


async def test_a_retirement_is_refused_when_it_cannot_be_carried_out(
    nats_url: str, pg_server_url: str, nc: NATS, tmp_path: Path
) -> None:
    await write_reports(nc)
    async with running(settings_for(nats_url, pg_server_url, tmp_path)) as svc:
        await caught_up(svc.runtime, nc)
        svc.app.dependency_overrides[report_clock] = at(APRIL_5)
        definition_id = await define(svc)
        quarterly = await define(svc, period_kind="quarter", first_period="2026-Q1")
        assert await ReportPolicy(clock=at(APRIL_5)).run_once(svc.runtime) == 4
        url = retirement(definition_id)
        body = {"reason": "Ended", "last_period": "2026-03"}

        for role in ("statistician", "auditor", "supervisor", "oversight"):
            refused = await svc.client.post(url, json=body, headers=svc.as_(role))
            assert refused.status_code == 403, (role, refused.text)
        missing = await svc.client.post(
            retirement("no-such-report"), json=body, headers=svc.as_("agency_admin", lang="fr")
        )
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "report_not_found"

        admin = svc.as_("agency_admin", lang="en")
        cases: list[tuple[dict[str, Any], str, str]] = [
            ({"last_period": "2026-13"}, "last_period", "Not a period key"),
            ({"last_period": "March"}, "last_period", "Not a period key"),
            ({"last_period": ""}, "last_period", "Not a period key"),
            ({"last_period": "2026-Q1"}, "last_period", "published by month"),
            ({"last_period": "2026-03-31"}, "last_period", "published by month"),
            ({"last_period": "2025-12"}, "last_period", "first period (2026-01)"),
            ({"last_period": "2026-02"}, "last_period", "already published up to 2026-03"),
            ({"last_period": "2026-0" + "1" * 20}, "last_period", "at most 16"),
            ({"reason": ""}, "reason", ""),
            ({"reason": "   "}, "reason", "Give a reason"),
            ({"reason": "x" * 1001}, "reason", "1000"),
            ({"reason": None}, "reason", ""),
            ({"until": "2026-03"}, "until", ""),
        ]
        for change, field, words in cases:
            answer = await svc.client.post(url, json={**body, **change}, headers=admin)
            assert answer.status_code == 422, (change, answer.text)
            [problem] = answer.json()["error"]["fields"]
            assert problem["field"] == field, (change, answer.text)
            assert words in problem["reason"], (change, answer.text)
        french = await svc.client.post(
            url, json={**body, "last_period": "2026-Q1"}, headers=svc.as_("agency_admin")
        )
        assert "publié par mois" in french.json()["error"]["fields"][0]["reason"]
        wrong_kind = await svc.client.post(
            retirement(quarterly), json={**body, "last_period": "2026-06"}, headers=admin
        )
        assert wrong_kind.status_code == 422
        assert "published by quarter" in wrong_kind.json()["error"]["fields"][0]["reason"]
        long_key = await svc.client.post(
            url, json=body, headers=svc.as_("agency_admin", **{"Idempotency-Key": "k" * 201})
        )
        assert long_key.status_code == 422
        assert long_key.json()["error"]["field"] == "Idempotency-Key"
        assert await stored(nc, RETIRED) == []  # nothing was written by any refusal

        # The last period published is still a last period that may be owed, and a later one
        # (not closed yet) keeps the report going until then.
        fine = await svc.client.post(url, json=body, headers=admin)
        assert fine.status_code == 200 and fine.json()["last_period"] == "2026-03"
        ahead = await svc.client.post(
            retirement(quarterly), json={**body, "last_period": "2026-Q3"}, headers=admin
        )
        assert ahead.status_code == 200 and ahead.json()["last_period"] == "2026-Q3"
        later = ReportPolicy(clock=at(datetime(2027, 2, 1, tzinfo=UTC)))
        assert await later.run_once(svc.runtime) == 2  # 2026-Q2 and 2026-Q3, not 2026-Q4
        quarters = [p["period"] for p in await stored(nc, PUBLISHED) if p["period"][5] == "Q"]
        assert quarters == ["2026-Q1", "2026-Q2", "2026-Q3"]
