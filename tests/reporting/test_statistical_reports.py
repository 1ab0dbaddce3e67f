"""Periodic statistical reports: defined by an agency administrator, published once per
closed period even with two instances racing, suppressed, and exported as CSV and as a page
with charts in French or English."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from nats.aio.client import Client as NATS

from services.reporting.app.reports import ReportPolicy, reports_owed
from shared.reading import iter_stored
from tests.reporting.reports_support import DEFINITION, write_reports
from tests.reporting.stats_support import caught_up, running, settings_for


async def test_reports_are_published_once_per_closed_period_by_two_instances(
    nats_url: str, pg_server_url: str, nc: NATS, tmp_path: Path
) -> None:
    counts = await write_reports(nc)
    first = settings_for(nats_url, pg_server_url, tmp_path)
    second = first.model_copy(update={"instance": "2"})
    async with running(first) as a, running(second) as b:
        await caught_up(a.runtime, nc)
        refused = await a.client.post(
            "/statistics/reports", json=DEFINITION, headers=a.as_("statistician")
        )
        assert refused.status_code == 403
        made = await a.client.post(
            "/statistics/reports", json=DEFINITION, headers=a.as_("agency_admin")
        )
        assert made.status_code == 201, made.text
        definition_id = made.json()["definition_id"]

        # Both instances see April 5th: January to March are closed; April is not.
        def clock() -> datetime:
            return datetime(2026, 4, 5, 9, tzinfo=UTC)

        one, two = ReportPolicy(clock=clock), ReportPolicy(clock=clock)
        fired = await asyncio.gather(one.run_once(a.runtime), two.run_once(b.runtime))
        assert sum(fired) == 3
        assert await asyncio.gather(one.run_once(a.runtime), two.run_once(b.runtime)) == [0, 0]
        stored = [
            json.loads(msg.data)["data"]
            async for _, _, msg in iter_stored(
                nc, "AUDIT", "audit.hq.statreport.*.StatisticalReportPublished"
            )
        ]
        assert sorted(p["period"] for p in stored) == ["2026-01", "2026-02", "2026-03"]
        on_time = {p["period"]: p["within_deadline"] for p in stored}
        # Due ten days after the month's end: only March's report is in time on April 5th.
        assert on_time == {"2026-01": False, "2026-02": False, "2026-03": True}
        march = next(p for p in stored if p["period"] == "2026-03")
        assert march["due_at"] == "2026-04-10T23:00:00Z"  # 11 April, 00:00 in Benin

        listed = await b.client.get("/statistics/reports", headers=b.as_("statistician"))
        [item] = listed.json()["items"]
        assert (item["status"], item["retired_at"], item["last_period"]) == ("active", None, None)
        assert [p["period"] for p in item["publications"]] == ["2026-01", "2026-02", "2026-03"]

        await check_published_report(b, definition_id, counts["2026-03"])
        await check_on_time_indicator(b, definition_id)


async def check_published_report(svc: Any, definition_id: str, expected: dict[str, int]) -> None:
    url = f"/statistics/reports/{definition_id}/2026-03"
    body = (await svc.client.get(url, headers=svc.as_("statistician"))).json()
    assert (body["revision"], body["revised_at"], body["revisions"]) == (0, None, [])
    by_channel = body["tables"][0]
    assert by_channel["query"] == {
        "from": "2026-03-01",
        "to": "2026-03-31",
        "period": None,
        "by": ["channel"],
        "filters": {},
    }
    shown = {row["channel"]: row["value"] for row in by_channel["rows"]}
    for channel, count in expected.items():
        assert shown[channel] == (count if count >= 5 else "<5") or shown[channel] == "x"
    assert by_channel["suppression"]["applied"] is True
    assert any(v in ("<5", "x") for v in shown.values())
    assert body["within_deadline"] is True and body["definition"]["period_kind"] == "month"

    exported = await svc.client.get(url, params={"format": "csv"}, headers=svc.as_("statistician"))
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    lines = list(csv.reader(io.StringIO(exported.text.lstrip("\ufeff"))))
    assert lines[0] == ["channel", "channel_label", "value"]
    assert ["hotline_116", "Ligne 116", str(shown["hotline_116"])] in lines

    for lang, title in [
        ("fr", "Bulletin mensuel de protection de l'enfant"),
        ("en", "Monthly child protection bulletin"),
    ]:
        page = await svc.client.get(
            url, headers=svc.as_("statistician", lang=lang, Accept="text/html")
        )
        assert page.status_code == 200
        html = page.text
        assert title.replace("'", "&#x27;") in html and "<svg" in html
        assert ("dans le délai" if lang == "fr" else "within its deadline") in html
        assert "<script" not in html and "https://" not in html

    missing = await svc.client.get(
        f"/statistics/reports/{definition_id}/2026-04", headers=svc.as_("statistician")
    )
    assert missing.status_code == 404


async def check_on_time_indicator(svc: Any, definition_id: str) -> None:
    answer = await svc.client.get(
        "/statistics/statistical_reports_on_time",
        params={"from": "2026-04-01", "to": "2026-04-30", "by": "definition"},
        headers=svc.as_("statistician"),
    )
    body = answer.json()
    assert body["total"] == {"numerator": 1, "denominator": 3, "share": 0.3333}
    assert body["labels"]["definition"][definition_id]["fr"].startswith("Bulletin mensuel")


async def test_a_definition_is_checked_before_it_is_recorded(
    nats_url: str, pg_server_url: str, tmp_path: Path
) -> None:
    async with running(settings_for(nats_url, pg_server_url, tmp_path)) as svc:
        admin = svc.as_("agency_admin", lang="en")
        cases: list[tuple[dict[str, Any], str]] = [
            ({"first_period": "2026-Q1"}, "first_period"),
            ({"period_kind": "week"}, "period_kind"),
            ({"items": [{"indicator": "children_served", "by": ["channel"]}]}, "items"),
            ({"items": [{"indicator": "nope"}]}, "items"),
            ({"items": [{"indicator": "service_availability"}]}, "items"),  # a snapshot
            ({"items": [{"indicator": "reports_received", "period": "year"}]}, "items.0.period"),
            (
                {"items": [{"indicator": "reports_received", "filters": {"agency": ["x"]}}]},
                "items.0.filters.agency",
            ),
            ({"due_days": -1}, "due_days"),
        ]
        for change, field in cases:
            answer = await svc.client.post(
                "/statistics/reports", json={**DEFINITION, **change}, headers=admin
            )
            assert answer.status_code == 422, (change, answer.text)
            assert answer.json()["error"]["fields"][0]["field"] == field, (change, answer.text)
        # Without a first period, the current one is the first.
        fine = await svc.client.post(
            "/statistics/reports",
            json={k: v for k, v in DEFINITION.items() if k != "first_period"},
            headers=admin,
        )
        assert fine.status_code == 201
        assert fine.json()["first_period"] == (datetime.now(UTC) + timedelta(hours=1)).strftime(
            "%Y-%m"
        )


def test_only_the_site_that_defined_a_report_publishes_it() -> None:
    def definition(definition_id: str, site: str) -> SimpleNamespace:
        return SimpleNamespace(
            definition_id=definition_id,
            site=site,
            first_period="2026-01",
            period_kind="month",
            retired_at=None,
            last_period=None,
        )

    defined = [definition("national", "hq"), definition("borgou", "parakou")]
    april = date(2026, 4, 5)
    owed = reports_owed(defined, {("national", "2026-01")}, "hq", april)
    assert [(d.definition_id, p.key) for d, p in owed] == [
        ("national", "2026-02"),
        ("national", "2026-03"),
    ]
    assert [p.key for _, p in reports_owed(defined, set(), "parakou", april)] == [
        "2026-01",
        "2026-02",
        "2026-03",
    ]
    assert reports_owed(defined, set(), "cotonou", april) == []
