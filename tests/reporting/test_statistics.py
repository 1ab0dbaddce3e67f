"""Indicators on a generated data set, checked against counts this test makes from the
generated facts themselves; what a statistician sees of them; bad questions; exports.

One data set and one running service serve every test of this module (they only read)."""

from __future__ import annotations

import csv
import io
import statistics
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import nats
import pytest
from sqlalchemy import text

from services.reporting.read import facts
from tests.reporting.disclosure import disclosed
from tests.reporting.statistics_story import write_story
from tests.reporting.stats_support import (
    Reporting,
    caught_up,
    cells,
    grid_of,
    nats_for_module,
    running,
    settings_for,
)
from tests.reporting.story_facts import STAFF, TZ, UNITS, Story

pytestmark = pytest.mark.connected

TODAY = datetime.now(TZ).date()
RANGE = {"from": "2026-01-01", "to": max(TODAY, date(2026, 12, 31)).isoformat()}


@dataclass
class World:
    story: Story
    svc: Reporting

    async def get(self, indicator: str, role: str = "auditor", **params: Any) -> dict[str, Any]:
        answer = await self.svc.client.get(
            f"/statistics/{indicator}", params={**RANGE, **params}, headers=self.svc.as_(role)
        )
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body


@pytest.fixture(scope="module")
async def world(
    pg_server_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[World]:
    tmp: Path = tmp_path_factory.mktemp("statistics")
    async with nats_for_module(tmp) as url:
        nc = await nats.connect(url)
        try:
            story = await write_story(nc)
            async with running(settings_for(url, pg_server_url, tmp)) as svc:
                await caught_up(svc.runtime, nc)
                yield World(story, svc)
        finally:
            await nc.close()


def department(commune: str) -> str:
    return "unknown" if commune == "unknown" else "-".join(commune.split("-")[:2])


def month(moment: datetime) -> str:
    return moment.astimezone(TZ).strftime("%Y-%m")


def canonical(story: Story, child: str) -> str:
    for a, b in story.duplicates:
        if child in (a, b):
            return min(a, b)
    return child


# -- the values -------------------------------------------------------------------------------


async def test_reports_received_by_channel_month_department_sex_and_age(world: World) -> None:
    reports = world.story.reports
    assert world.story.events > 500
    by_channel = await world.get("reports_received", by="channel")
    assert cells(by_channel) == {(k,): v for k, v in Counter(r.channel for r in reports).items()}
    assert by_channel["total"]["value"] == len(reports)

    monthly = await world.get("reports_received", period="month", by="department")
    expected = Counter((month(r.received_at), department(r.commune)) for r in reports)
    got = cells(monthly)
    assert {k: v for k, v in got.items() if v} == expected
    # 23:30 UTC on 31 January is 1 February in Benin.
    assert month(reports[0].received_at) == "2026-02"
    assert {k[0] for k in got} >= {"2026-01", "2026-06", "2026-12"}  # empty months are there

    by_sex = cells(await world.get("reports_received", by="sex"))
    for sex in ("female", "male", "unknown", "other"):
        assert by_sex.get((sex,), 0) == sum(any(c.sex == sex for c in r.children) for r in reports)
    by_age = cells(await world.get("reports_received", by="age_band"))
    for band in ("0-4", "5-9", "10-14", "15-17", "unknown"):
        assert by_age.get((band,), 0) == sum(band in r.bands.values() for r in reports)

    parakou = await world.get("reports_received", by="channel", commune="bj-borgou-parakou")
    assert parakou["total"]["value"] == sum(r.commune == "bj-borgou-parakou" for r in reports)


async def test_share_screened_within_the_deadline(world: World) -> None:
    answer = await world.get("reports_screened_within_deadline", by="channel")
    counted = [r for r in world.story.reports if r.screened is not None or r.overdue]
    for row in answer["rows"]:
        mine = [r for r in counted if r.channel == row["channel"]]
        assert row["denominator"] == len(mine)
        assert row["numerator"] == sum(bool(r.screened) for r in mine)
        assert row["share"] == round(row["numerator"] / row["denominator"], 4)
    assert answer["total"]["denominator"] == len(counted)


async def test_children_served_count_each_child_once(world: World) -> None:
    story = world.story
    case_sex = {c.case_id: c.sex for c in story.cases}
    per_sex: dict[str, set[str]] = defaultdict(set)
    for service in story.services:
        per_sex[case_sex[service.case_id]].add(canonical(story, service.child_id))
    answer = await world.get("children_served", by="sex")
    assert {k[0]: v for k, v in cells(answer).items()} == {s: len(c) for s, c in per_sex.items()}
    assert answer["total"]["value"] == len({canonical(story, s.child_id) for s in story.services})
    by_kind = cells(await world.get("children_served", by="service_kind"))
    for kind, value in by_kind.items():
        assert value == len(
            {canonical(story, s.child_id) for s in story.services if s.kind == kind[0]}
        )


async def test_cases_trafficking_stages_risks_closures_and_delays(world: World) -> None:
    cases = world.story.cases
    trafficking = [c for c in cases if any(k.startswith("trafficking_") for k in c.concerns)]
    answer = await world.get("trafficking_cases", by="sex")
    assert cells(answer) == {(k,): v for k, v in Counter(c.sex for c in trafficking).items()}

    open_cases = [c for c in cases if c.closed is None]
    by_stage_risk = cells(await world.get("cases_open", by=["stage", "risk"]))
    expected = Counter((c.stage, c.risk) for c in open_cases)
    assert {k: v for k, v in by_stage_risk.items() if v} == expected

    closures = cells(await world.get("case_closures", by="closure_reason"))
    assert closures == {(k,): v for k, v in Counter(c.closed for c in cases if c.closed).items()}

    opened = cells(await world.get("cases_opened", by="agency"))
    assert opened == {(k,): v for k, v in Counter(c.agency for c in cases).items()}

    for indicator, moment in [
        ("time_to_case_opening", "opened_at"),
        ("time_to_first_assessment", "first_assessment_at"),
        ("time_to_case_plan", "plan_at"),
    ]:
        hours = [
            (getattr(c, moment) - c.received_at).total_seconds() / 3600
            for c in cases
            if getattr(c, moment) is not None
        ]
        total = (await world.get(indicator))["total"]
        assert total["count"] == len(hours)
        assert abs(total["median"] - statistics.median(hours)) < 0.06
        assert abs(total["mean"] - statistics.fmean(hours)) < 0.06


async def test_caseload_and_qualified_workers(world: World) -> None:
    assigned = [c for c in world.story.cases if c.closed is None and c.worker]
    loads = Counter(c.worker for c in assigned)
    total = (await world.get("caseload_per_worker"))["total"]
    assert total["count"] == len(loads)
    assert total["max"] == max(loads.values())
    assert total["median"] == round(statistics.median(loads.values()), 1)
    share = (await world.get("cases_with_qualified_worker"))["total"]
    assert share["denominator"] == len(assigned)
    assert share["numerator"] == sum(bool(c.qualified) for c in assigned)


async def test_referrals_and_service_availability(world: World) -> None:
    referrals = world.story.referrals
    for indicator, count in [
        ("referrals_sent", len(referrals)),
        ("referrals_accepted", sum(r.accepted_at is not None for r in referrals)),
        ("referrals_declined", sum(r.declined for r in referrals)),
        ("referrals_completed", sum(r.completed_at is not None for r in referrals)),
        ("referrals_overdue", sum(r.overdue for r in referrals)),
    ]:
        assert (await world.get(indicator))["total"]["value"] == count, indicator
    by_kind = cells(await world.get("referrals_sent", by=["service_kind", "to_unit"]))
    expected = Counter((r.service_kind, r.to_unit) for r in referrals)
    assert {k: v for k, v in by_kind.items() if v} == expected
    waits = [(r.accepted_at - r.made_at).total_seconds() / 3600 for r in referrals if r.accepted_at]
    answer = (await world.get("referral_time_to_acceptance"))["total"]
    assert answer["count"] == len(waits)

    availability = await world.get("service_availability", role="statistician")
    found = {i["hub"]: (i["offered"], i["expected"]) for i in availability["items"]}
    hubs = {u for u, spec in UNITS.items() if spec[3]}
    for hub in hubs:
        expected_kinds = set(UNITS[hub][3])
        offered = {
            k for u, spec in UNITS.items() if u == hub or spec[4] == hub for k in spec[2]
        } & expected_kinds
        assert found[hub] == (len(offered), len(expected_kinds))
    item = next(i for i in availability["items"] if i["hub"] == "hub-parakou")
    assert item["display"] == {"en": "5 of 6", "fr": "5 sur 6"}
    page = await world.svc.client.get(
        "/statistics/service_availability",
        params={"format": "html"},
        headers=world.svc.as_("statistician", lang="fr"),
    )
    assert "5 sur 6" in page.text and "CPS Parakou" in page.text and "<svg" in page.text


async def test_workforce(world: World) -> None:
    story = world.story
    assert (await world.get("training_sessions"))["total"]["value"] == len(story.trainings)
    trained = {p for *_, people in story.trainings for p in people}
    by_agency = cells(await world.get("staff_trained", by="agency"))
    assert by_agency == {(a,): n for a, n in Counter(STAFF[p][0] for p in trained).items()}
    assessed = cells(await world.get("staff_assessed", by="competency"))
    per: dict[str, set[str]] = defaultdict(set)
    for staff_id, competency, _, _ in story.assessments:
        per[competency].add(staff_id)
    assert assessed == {(k,): len(v) for k, v in per.items()}


# -- what a statistician sees ------------------------------------------------------------------

ADDITIVE = [
    ("cases_open", {"by": ["stage", "risk"]}),
    ("reports_received", {"by": ["channel", "urgency"]}),
    ("reports_received", {"period": "month", "by": "channel"}),
    ("referrals_sent", {"by": ["service_kind", "to_unit"]}),
    ("case_closures", {"by": ["closure_reason", "agency"]}),
    ("trafficking_cases", {"by": "sex"}),
    ("cases_opened", {"by": ["department", "urgency"]}),
]


@pytest.mark.parametrize(("indicator", "params"), ADDITIVE)
async def test_statisticians_see_suppressed_tables_that_give_nothing_away(
    world: World, indicator: str, params: dict[str, Any]
) -> None:
    exact = await world.get(indicator, **params)
    shown = await world.get(indicator, role="statistician", **params)
    assert exact["suppression"]["applied"] is False and shown["suppression"]["applied"] is True
    true_grid, shown_grid = grid_of(exact), grid_of(shown)
    status = []
    for true_line, shown_line in zip(true_grid, shown_grid, strict=True):
        line = []
        for truth, seen in zip(true_line, shown_line, strict=True):
            if seen == "<5":
                assert truth < 5
                line.append("primary")
            elif seen == "x":
                assert truth >= 5
                line.append("secondary")
            else:
                assert seen == truth
                assert not 0 < truth < 5, "a small count was published"
                line.append("published")
        status.append(line)
    assert disclosed(true_grid, status) == []


async def test_a_share_is_shown_only_with_both_its_counts(world: World) -> None:
    shown = await world.get("reports_screened_within_deadline", role="statistician", by="channel")
    for row in shown["rows"]:
        hidden = row["numerator"] in ("<5", "x") or row["denominator"] in ("<5", "x")
        assert (row["share"] is None) == hidden


async def test_reporting_tables_hold_no_narrative_and_no_identifying_column(world: World) -> None:
    assert world.svc.runtime.engine is not None
    async with world.svc.runtime.engine.connect() as conn:
        for table in facts.metadata.sorted_tables:
            columns = set(table.c.keys())
            assert not columns & {"date_of_birth", "narrative", "alias", "details", "summary"}
            if table.name not in ("stat_agency", "stat_unit"):  # names of agencies and units
                assert "name" not in columns
            dump = (
                await conn.execute(text(f"SELECT json_agg(t)::text FROM {table.name} t"))
            ).scalar()
            assert "jamais sortir" not in (dump or "")


# -- bad questions ------------------------------------------------------------------------------

BAD = [
    ("nope", {}, "indicator"),
    ("children_served", {"by": "channel"}, "by"),
    ("reports_received", {"by": "period"}, "by"),
    ("reports_received", {"by": ["sex", "channel", "urgency", "commune"]}, "by"),
    ("reports_received", {"by": ["sex", "sex"]}, "by"),
    ("reports_received", {"from": "2026-05-01", "to": "2026-04-01"}, "to"),
    ("reports_received", {"from": "2026-13-01"}, "from"),
    ("reports_received", {"to": "01/04/2026"}, "to"),
    ("reports_received", {"period": "week"}, "period"),
    ("reports_received", {"period": "day", "from": "2020-01-01", "to": "2026-01-01"}, "period"),
    ("reports_received", {"commune": "bj-nowhere"}, "commune"),
    ("reports_received", {"agency": "ghost-agency"}, "agency"),
    ("reports_received", {"service_kind": "medical"}, "service_kind"),
    ("reports_received", {"colour": "red"}, "colour"),
    ("reports_received", {"format": "pdf"}, "format"),
    ("service_availability", {"period": "month"}, "period"),
    ("reports_received", {"period": "day", "by": ["commune", "concern", "channel"]}, "by"),
]


async def test_bad_questions_get_the_field_and_the_reason_in_both_languages(world: World) -> None:
    for indicator, params, field in BAD:
        query = {**RANGE, **params}
        answer = await world.svc.client.get(
            f"/statistics/{indicator}", params=query, headers=world.svc.as_("statistician")
        )
        assert answer.status_code == 422, (indicator, params, answer.text)
        [problem] = answer.json()["error"]["fields"]
        assert problem["field"] == field, (indicator, params, problem)
        english = await world.svc.client.get(
            f"/statistics/{indicator}",
            params=query,
            headers=world.svc.as_("statistician", lang="en"),
        )
        assert english.json()["error"]["fields"][0]["reason"] != problem["reason"]
    nobody = await world.svc.client.get("/statistics/reports_received")
    assert nobody.status_code == 401
    worker = await world.svc.client.get(
        "/statistics/reports_received", headers=world.svc.as_("case_worker")
    )
    assert worker.status_code == 403


async def test_the_catalogue_lists_every_indicator_with_both_languages(world: World) -> None:
    answer = await world.svc.client.get("/statistics", headers=world.svc.as_("statistician"))
    body = answer.json()
    codes = {i["code"] for i in body["indicators"]}
    assert {"reports_received", "children_served", "trafficking_cases", "cases_open"} <= codes
    for indicator in body["indicators"]:
        assert indicator["label"]["en"] and indicator["label"]["fr"]
    sexes = next(d for d in body["dimensions"] if d["code"] == "sex")
    assert [v["code"] for v in sexes["values"]] == ["female", "male", "unknown", "other"]
    assert body["suppression"]["exact_for_you"] is False


# -- exports ------------------------------------------------------------------------------------


async def test_csv_and_html_exports(world: World) -> None:
    params = {**RANGE, "by": ["stage", "risk"]}
    json_answer = await world.get("cases_open", role="statistician", by=["stage", "risk"])
    answer = await world.svc.client.get(
        "/statistics/cases_open",
        params=params,
        headers=world.svc.as_("statistician", Accept="text/csv"),
    )
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert answer.headers["relais-freshness"].startswith("AUDIT=")
    lines = list(csv.reader(io.StringIO(answer.text.lstrip("\ufeff"))))
    assert lines[0] == ["stage", "stage_label", "risk", "risk_label", "value"]
    body = {(line[0], line[2]): line[4] for line in lines[1:]}
    for row in json_answer["rows"]:
        assert body[(row["stage"], row["risk"])] == str(row["value"])
    assert ("total", "total") in body and lines[-1][1] == "Total"
    assert any(line[1] == "Évaluation initiale" for line in lines)

    for lang, title, label in [
        ("fr", "Dossiers en cours", "Évaluation initiale"),
        ("en", "Open cases", "Initial assessment"),
    ]:
        page = await world.svc.client.get(
            "/statistics/cases_open",
            params={**params, "format": "html"},
            headers=world.svc.as_("statistician", lang=lang),
        )
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        html = page.text
        assert f'<html lang="{lang}">' in html and title in html and label in html
        assert "<svg" in html and "&lt;5" in html
        # Works offline: nothing to fetch, no script, no style sheet, no font from elsewhere.
        for forbidden in ("<script", "<link", "src=", "@import", "url(http", "https://"):
            assert forbidden not in html, forbidden
        assert page.headers["relais-freshness"]


async def test_the_xlsx_download_holds_the_json_answers_suppressed_figures(world: World) -> None:
    from openpyxl import load_workbook

    by = ["stage", "risk"]
    json_answer = await world.get("cases_open", role="statistician", by=by)
    assert json_answer["suppression"]["hidden"] > 0, "the data set should hide some cells"
    for how in ({"format": "xlsx"}, {}):
        answer = await world.svc.client.get(
            "/statistics/cases_open",
            params={**RANGE, "by": by, **how},
            headers=world.svc.as_(
                "statistician",
                Accept="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            ),
        )
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-disposition"].endswith('cases_open.xlsx"')
        book = load_workbook(io.BytesIO(answer.content), read_only=True)
        about = [tuple(r) for r in book.worksheets[0].iter_rows(values_only=True)]
        streams = json_answer["freshness"]["streams"]
        assert ("INTAKE", streams["INTAKE"]["last_seq"]) in about
        assert any(r[0] == "<5" for r in about) and any(r[0] == "x" for r in about)
        rows = list(book.worksheets[1].iter_rows(values_only=True))
        header = list(rows[1])
        assert header == ["stage", "stage_label", "risk", "risk_label", "value"]
        figures = {(r[0], r[2]): r[4] for r in rows[2:]}
        for row in json_answer["rows"]:
            assert figures[(row["stage"], row["risk"])] == row["value"]  # "<5", "x" or a number
        assert figures[("total", "total")] == json_answer["total"]["value"]
        hidden = [v for v in figures.values() if v in ("<5", "x")]
        assert len(hidden) == json_answer["suppression"]["hidden"]


async def test_every_answer_states_its_freshness(world: World) -> None:
    answer = await world.get("reports_received")
    streams = answer["freshness"]["streams"]
    assert set(streams) == {"INTAKE", "REFERRAL", "CASEWORK", "AUDIT"}
    assert streams["INTAKE"]["last_seq"] > 0
    applied = datetime.fromisoformat(streams["CASEWORK"]["applied_at"].replace("Z", "+00:00"))
    assert applied <= datetime.now(UTC)
