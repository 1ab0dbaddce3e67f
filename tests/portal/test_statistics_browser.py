"""The statistician in a real browser: an indicator with a breakdown and a filter, its chart
(inline SVG), the table with the cells reporting suppressed shown as ``<5`` / ``x`` and the
legend, the stream positions the figures were computed up to, and the downloads: the XLSX the
portal hands over opens with openpyxl and holds the very figures of reporting's JSON answer.
A statistician opening a case's address is refused."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook
from playwright.async_api import Browser, expect

from tests.portal.conftest import open_screen
from tests.portal.system import System
from tests.portal.test_frontline_browser import sign_in

pytestmark = [pytest.mark.system, pytest.mark.xdist_group("portal")]

AGENCY = "insae"


async def test_the_statistician_reads_an_indicator_and_downloads_it(
    browser: Browser, system: System
) -> None:
    await system.account("rose@insae.bj", ["statistician"], AGENCY, name="Rose Kiki")
    operator = system.token("hotline_operator", "op-stats", "ocpm-stats")
    when = (datetime.now(UTC) - timedelta(minutes=30)).isoformat()
    for n, channel in enumerate(["walk_in"] * 7 + ["school"] * 2):
        body = {
            "channel": channel,
            "received_at": when,
            "commune": "bj-donga-djougou",
            "concerns": ["child_labour"],
            "children": [{"name": f"Enfant {n}", "sex": "female", "age_years": 12}],
        }
        await system.ok("intake", "POST", "/reports", operator, body, status=201)
    await system.caught_up("reporting", "INTAKE")
    # Donga: no other test of the package reports there, so the cells are this test's own.
    params = {"by": "channel", "sex": "female", "department": "bj-donga"}

    screen = await open_screen(browser, system.base_url, "statistics-1-statistician")
    await sign_in(screen, "rose@insae.bj")
    page = screen.page
    await page.get_by_role("link", name="Statistiques").first.click()
    await screen.seen("statistics-empty")
    await page.get_by_label("Indicateur").select_option("reports_received")
    await page.get_by_role("button", name="Afficher").click()
    await page.get_by_label("Ventilé par").select_option(params["by"])
    await page.get_by_text("Filtres").click()
    await page.get_by_label("Sexe").select_option(params["sex"])
    await page.get_by_label("Département").select_option(params["department"])
    await page.get_by_role("button", name="Afficher").click()
    await expect(page.locator("#figures")).to_be_visible()
    await expect(page.locator("svg.chart")).to_be_visible()
    await expect(page.locator("#legend")).to_contain_text("Moins de 5")
    await expect(page.locator("#freshness")).to_contain_text("INTAKE #")
    await screen.seen("statistics-answer")

    # The page shows reporting's own answer, suppressed as reporting suppressed it.
    reporting = await system.clients["reporting"].get(
        "/statistics/reports_received",
        params=params,
        headers=system.token("statistician", "rose", AGENCY),
    )
    answer = reporting.json()
    assert answer["suppression"]["applied"] and answer["suppression"]["hidden"] >= 2
    shown = {
        row["channel"]: row["value"]
        for row in answer["rows"]
        if row["channel"] in ("walk_in", "school")
    }
    assert shown["school"] == "<5" and shown["walk_in"] == "x", shown
    cells = await page.locator("#figures tbody tr").all_inner_texts()
    assert any("Établissement scolaire" in c or "cole" in c for c in cells), cells
    assert any(c.rstrip().endswith("<5") for c in cells) and any(
        c.rstrip().endswith("x") for c in cells
    )

    # XLSX through the portal: the same figures as the JSON answer.
    async with page.expect_download() as caught:
        await page.get_by_role("link", name="Télécharger en XLSX").click()
    download = await caught.value
    content = Path(await download.path()).read_bytes()
    book = load_workbook(io.BytesIO(content), read_only=True)
    rows = list(book.worksheets[1].iter_rows(values_only=True))
    assert rows[1][:2] == ("channel", "channel_label")
    figures = {r[0]: r[2] for r in rows[2:]}
    for row in answer["rows"]:
        assert figures[row["channel"]] == row["value"]
    assert figures["total"] == answer["total"]["value"]
    about = [tuple(r) for r in book.worksheets[0].iter_rows(values_only=True)]
    assert ("INTAKE", answer["freshness"]["streams"]["INTAKE"]["last_seq"]) in about
    async with page.expect_download() as caught:
        await page.get_by_role("link", name="Télécharger en CSV").click()
    text = Path(await (await caught.value).path()).read_text(encoding="utf-8-sig")
    assert "school" in text and "<5" in text

    # Refusals: a case's address, and the complaints inbox.
    await page.goto("/cases/01JCASE0000000000000000000")
    await expect(page.get_by_role("heading", name="Non accessible à votre rôle")).to_be_visible()
    await screen.seen("statistician-refused-case")
    await page.goto("/oversight/complaints")
    await expect(page.get_by_role("heading", name="Non accessible à votre rôle")).to_be_visible()
