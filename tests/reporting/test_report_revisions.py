"""Revisions: events that reach the log after a period's report was published (a regional
office back online) make the policy revise the report once, even with two instances; the
report then shows its latest figures and says it was revised, while its publication time,
its deadline and the deadline indicator stay as they were."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from nats.aio.client import Client as NATS
from pydantic import ValidationError

from services.reporting.app.report_tables import changes, iso, small_differences
from services.reporting.app.reports import ReportPolicy
from services.reporting.app.revisions import REVISION_CHECK_EVERY
from shared.config import Settings
from tests.reporting.reports_support import (
    DEFINITION,
    intake_store,
    register_report,
    stored,
    write_reports,
)
from tests.reporting.stats_support import Reporting, caught_up, running, settings_for

APRIL_5 = datetime(2026, 4, 5, 9, tzinfo=UTC)
PUBLISHED = "audit.hq.statreport.*.StatisticalReportPublished"
REVISED = "audit.hq.statreport.*.StatisticalReportRevised"


def at(moment: datetime) -> Any:
    def clock() -> datetime:
        return moment

    return clock


async def both(one: ReportPolicy, two: ReportPolicy, a: Reporting, b: Reporting) -> int:
    """Both instances run the policy at once; how many revisions they appended together."""
    before = len(one.reviser.fired) + len(two.reviser.fired)
    await asyncio.gather(one.run_once(a.runtime), two.run_once(b.runtime))
    return len(one.reviser.fired) + len(two.reviser.fired) - before


def total(table: dict[str, Any]) -> Any:
    return table["total"].get("value")


async def on_time(svc: Reporting) -> dict[str, Any]:
    answer = await svc.client.get(
        "/statistics/statistical_reports_on_time",
        params={"from": "2026-01-01", "to": "2026-12-31"},
        headers=svc.as_("auditor"),
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json()["total"])


async def test_a_late_event_revises_the_published_report_once(
    nats_url: str, pg_server_url: str, nc: NATS, tmp_path: Path
) -> None:
    counts = await write_reports(nc)
    first = settings_for(nats_url, pg_server_url, tmp_path)
    second = first.model_copy(update={"instance": "2"})
    async with running(first) as a, running(second) as b:
        await caught_up(a.runtime, nc)
        made = await a.client.post(
            "/statistics/reports", json=DEFINITION, headers=a.as_("agency_admin")
        )
        definition_id = made.json()["definition_id"]
        one, two = ReportPolicy(clock=at(APRIL_5)), ReportPolicy(clock=at(APRIL_5))
        await asyncio.gather(one.run_once(a.runtime), two.run_once(b.runtime))
        [march] = [p for p in await stored(nc, PUBLISHED) if p["period"] == "2026-03"]
        indicator = await on_time(a)
        assert indicator == {"numerator": 1, "denominator": 3, "share": 0.3333}

        # An April report moves the facts but no figure of January to March: rechecked, and
        # not revised.
        store = intake_store(nc)
        await register_report(store, "april", "hotline_116", datetime(2026, 4, 2, tzinfo=UTC))
        await caught_up(a.runtime, nc)
        one.clock = two.clock = at(APRIL_5 + REVISION_CHECK_EVERY)
        assert await both(one, two, a, b) == 0
        assert one.reviser.checked_at and two.reviser.checked_at  # they did look
        assert await stored(nc, REVISED) == []

        # A March report that a regional office sends after the report was published.
        await register_report(store, "late", "hotline_116", datetime(2026, 3, 30, tzinfo=UTC))
        await caught_up(a.runtime, nc)
        # Not before the next check is due, however many passes run.
        assert await both(one, two, a, b) == 0
        # One late report is held back: beside the first edition, the revision would say
        # that one more girl was reported by the hotline in March.
        one.clock = two.clock = at(APRIL_5 + 2 * REVISION_CHECK_EVERY)
        assert await both(one, two, a, b) == 0
        assert await stored(nc, REVISED) == []
        # Four more make the difference a publishable count in every cell it touches.
        for n in range(4):
            received = datetime(2026, 3, 20 + n, tzinfo=UTC)
            await register_report(store, f"late-{n}", "hotline_116", received)
        await caught_up(a.runtime, nc)
        later = APRIL_5 + 3 * REVISION_CHECK_EVERY
        one.clock = two.clock = at(later)
        assert await both(one, two, a, b) == 1
        [revised] = await stored(nc, REVISED)
        assert revised["report_id"] == march["report_id"] and revised["period"] == "2026-03"
        assert revised["revision"] == 1 and revised["revised_at"] == iso(later)
        march_total = sum(counts["2026-03"].values())
        assert total(march["tables"][0]) == march_total
        assert total(revised["tables"][0]) == march_total + 5
        assert total(revised["tables"][1]) == march_total + 5
        # By channel and by sex changed; the share screened in time has no screening to add.
        assert {(c["table"], c["indicator"]) for c in revised["changes"]} == {
            (0, "reports_received"),
            (1, "reports_received"),
        }
        assert all(c["changed_cells"] >= 1 for c in revised["changes"])
        assert "child" not in str(revised["changes"])

        # Nothing new since the revision: later passes append nothing.
        one.clock = two.clock = at(later + 2 * REVISION_CHECK_EVERY)
        assert await both(one, two, a, b) == 0
        assert len(await stored(nc, REVISED)) == 1

        await check_revised_report(b, definition_id, march, revised)
        # A revision is no new publication: the deadline indicator has not moved.
        assert await on_time(b) == indicator


async def check_revised_report(
    svc: Reporting, definition_id: str, march: dict[str, Any], revised: dict[str, Any]
) -> None:
    url = f"/statistics/reports/{definition_id}/2026-03"
    body = (await svc.client.get(url, headers=svc.as_("statistician"))).json()
    assert body["revision"] == 1 and body["revised_at"] == revised["revised_at"]
    assert body["published_at"].startswith(march["published_at"][:19])
    assert body["within_deadline"] is True
    assert total(body["tables"][0]) == total(revised["tables"][0])
    assert [r["revision"] for r in body["revisions"]] == [1]
    assert body["revisions"][0]["revised_at"] == revised["revised_at"]
    assert body["revisions"][0]["changes"] == revised["changes"]
    listed = await svc.client.get("/statistics/reports", headers=svc.as_("statistician"))
    [item] = listed.json()["items"]
    shown = {p["period"]: p["revision"] for p in item["publications"]}
    assert shown == {"2026-01": 0, "2026-02": 0, "2026-03": 1}

    for lang, words in (("en", "revised 2026-04-05"), ("fr", "révisé le 2026-04-05")):
        exported = await svc.client.get(
            url, params={"format": "csv"}, headers=svc.as_("statistician", lang=lang)
        )
        assert exported.status_code == 200
        assert exported.headers["content-disposition"].endswith('-2026-03-r1.csv"')
        lines = list(csv.reader(io.StringIO(exported.text.lstrip("\ufeff"))))
        assert lines[0][0].lower().startswith(words) and lines[0][0][0].isupper()
        assert lines[0][0].endswith("1)")
        assert lines[1] == ["channel", "channel_label", "value"]
        assert any(
            line[0] == "total" and line[-1] == str(total(revised["tables"][0])) for line in lines
        )
        page = await svc.client.get(
            url, headers=svc.as_("statistician", lang=lang, Accept="text/html")
        )
        assert words.lower() in page.text.lower()

    first_edition = await svc.client.get(
        f"/statistics/reports/{definition_id}/2026-01",
        params={"format": "csv"},
        headers=svc.as_("statistician"),
    )
    assert first_edition.text.lstrip("\ufeff").startswith("channel,")


async def test_no_revision_outside_the_revision_window(
    nats_url: str, pg_server_url: str, nc: NATS, tmp_path: Path
) -> None:
    await write_reports(nc)
    settings = settings_for(nats_url, pg_server_url, tmp_path, report_revision_days=30)
    async with running(settings) as svc:
        await caught_up(svc.runtime, nc)
        await svc.client.post(
            "/statistics/reports", json=DEFINITION, headers=svc.as_("agency_admin")
        )
        policy = ReportPolicy(clock=at(APRIL_5))
        assert await policy.run_once(svc.runtime) == 3
        for n in range(5):  # five, so that the revision is not held back as too small
            received = datetime(2026, 2, 10 + n, tzinfo=UTC)
            await register_report(intake_store(nc), f"late-{n}", "police", received)
        await caught_up(svc.runtime, nc)
        policy.clock = at(APRIL_5 + timedelta(days=31))
        await policy.run_once(svc.runtime)
        assert policy.reviser.fired == [] and await stored(nc, REVISED) == []
        # Within the window it would have been revised.
        policy.clock = at(APRIL_5 + timedelta(days=29))
        policy.reviser.next_check = None
        await policy.run_once(svc.runtime)
        assert len(policy.reviser.fired) == 1
        [revised] = await stored(nc, REVISED)
        assert revised["period"] == "2026-02"

    off = settings_for(nats_url, pg_server_url, tmp_path, report_revision_days=0)
    async with running(off) as svc:
        await caught_up(svc.runtime, nc)
        await register_report(intake_store(nc), "later", "school", datetime(2026, 1, 9, tzinfo=UTC))
        await caught_up(svc.runtime, nc)
        policy = ReportPolicy(clock=at(APRIL_5 + timedelta(days=1)))
        await policy.run_once(svc.runtime)
        assert policy.reviser.fired == []


@pytest.mark.parametrize("value", ["-1", "ninety", "1.5", "3661", ""])
def test_a_wrong_revision_window_stops_the_start_up(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("RELAIS_REPORT_REVISION_DAYS", value)
    with pytest.raises(ValidationError) as err:
        Settings()
    assert "RELAIS_REPORT_REVISION_DAYS must be a whole number of days" in str(err.value)


def test_the_revision_window_is_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings().report_revision_days == 90
    monkeypatch.setenv("RELAIS_REPORT_REVISION_DAYS", "0")
    assert Settings().report_revision_days == 0
    monkeypatch.setenv("RELAIS_REPORT_REVISION_DAYS", "365")
    assert Settings().report_revision_days == 365


def table(rows: list[tuple[str, Any]], value: Any, **extra: Any) -> dict[str, Any]:
    return {
        "indicator": {"code": "reports_received"},
        "dimensions": [{"code": "channel"}],
        "rows": [{"channel": c, "value": v} for c, v in rows],
        "row_totals": [],
        "column_totals": [],
        "total": {"value": value},
        **extra,
    }


def test_only_figures_make_a_change() -> None:
    old = table([("police", 7), ("school", "<5")], 9, freshness={"computed_at": "a"})
    relabelled = {**table([("police", 7), ("school", "<5")], 9), "labels": {"x": 1}}
    assert changes([old], [relabelled]) == []
    moved = table([("police", 8), ("school", "<5")], 10)
    assert [(c.table, c.changed_cells) for c in changes([old], [moved])] == [(0, 2)]
    grown = table([("police", 7), ("school", "<5"), ("hotline_116", "<5")], 10)
    assert [c.changed_cells for c in changes([old], [grown])] == [2]  # a new row, the total
    failed = {"indicator": {"code": "reports_received"}, "error": {"en": "x", "fr": "x"}}
    assert changes([failed], [failed]) == []
    assert changes([failed], [old])[0].changed_cells == 4
    assert changes([old, failed], [old, old])[0].table == 1


def test_a_revision_whose_differences_would_single_out_a_few_children_is_held_back() -> None:
    old = table([("police", 7), ("school", "<5"), ("hotline_116", 20)], 31)
    one_more = table([("police", 8), ("school", "<5"), ("hotline_116", 20)], 32)
    assert small_differences([old], [one_more], 5) == 2  # the police row and the total
    five_more = table([("police", 12), ("school", "<5"), ("hotline_116", 20)], 36)
    assert small_differences([old], [five_more], 5) == 0
    # A cell hidden in either edition gives no difference to read; a new row has no
    # earlier figure to subtract.
    now_shown = table([("police", 12), ("school", 5), ("hotline_116", 20), ("walk_in", 5)], 46)
    assert small_differences([old], [now_shown], 5) == 0
    shares = {
        "indicator": {"code": "reports_screened_within_deadline"},
        "rows": [],
        "row_totals": [],
        "column_totals": [],
        "total": {"numerator": 10, "denominator": 12, "share": 0.83},
    }
    later = {**shares, "total": {"numerator": 10, "denominator": 14, "share": 0.71}}
    assert small_differences([shares], [later], 5) == 1
    assert small_differences([], [old], 5) == 0
