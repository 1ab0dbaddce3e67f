"""Periodic statistical reports in a real browser: the agency administrator defines a monthly
report from last month, sees the edition reporting publishes and downloads it as XLSX, then
retires the report with a reason; a statistician reads the list and may not define one."""

from __future__ import annotations

import io
from datetime import date, timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook
from playwright.async_api import Browser, expect

from services.reporting.app.reports import ReportPolicy
from tests.portal.conftest import open_screen
from tests.portal.system import System
from tests.portal.test_frontline_browser import reload_until, sign_in

pytestmark = [pytest.mark.system, pytest.mark.xdist_group("portal")]

AGENCY = "mfasn"


async def test_the_administrator_defines_sees_and_retires_a_report(
    browser: Browser, system: System
) -> None:
    await system.account("adele@mfasn.bj", ["agency_admin"], AGENCY, name="Adèle Houénou")
    await system.account("marc@mfasn.bj", ["statistician"], AGENCY, name="Marc Dossa")
    last_month = (date.today().replace(day=1) - timedelta(days=1)).strftime("%Y-%m")

    admin = await open_screen(browser, system.base_url, "periodic-1-admin")
    await sign_in(admin, "adele@mfasn.bj")
    page = admin.page
    await page.get_by_role("link", name="Rapports périodiques").first.click()
    await expect(page.get_by_role("heading", name="Rapports périodiques")).to_be_visible()
    await page.get_by_text("Définir un rapport").click()
    await page.get_by_role("button", name="Définir le rapport").click()  # nothing filled
    await expect(page.get_by_role("alert")).to_contain_text("Indiquez le titre en français.")
    await admin.seen("define-refused")
    await page.get_by_label("Titre en français").fill("Signalements du mois")
    await page.get_by_label("Titre en anglais").fill("Reports of the month")
    await page.get_by_label("Publication").select_option("month")
    await page.get_by_label("Délai, en jours après la fin de la période").fill("10")
    await page.get_by_label("Première période").fill(last_month)
    table = page.locator("fieldset", has_text="Tableau 1")
    await table.get_by_label("Indicateur").select_option("reports_received")
    await table.get_by_label("Ventilé par").select_option("channel")
    await page.get_by_role("button", name="Définir le rapport").click()
    await expect(page.get_by_role("status")).to_contain_text("Le rapport est défini")
    await expect(page.locator("#definitions")).to_contain_text("Signalements du mois")

    # Reporting's policy publishes the closed month (run now rather than in a minute).
    await ReportPolicy(interval_s=60).run_once(system.apps["reporting"].state.runtime)
    await reload_until(page, "Éditions publiées")
    await admin.seen("reports-published")
    async with page.expect_download() as caught:
        await page.get_by_role("link", name=f"XLSX {last_month}").click()
    content = Path(await (await caught.value).path()).read_bytes()
    book = load_workbook(io.BytesIO(content), read_only=True)
    assert book.worksheets[0]["A1"].value == "Signalements du mois"
    assert list(book.worksheets[1].iter_rows(values_only=True))[1][:2] == (
        "channel",
        "channel_label",
    )

    await page.get_by_text("Retirer ce rapport").click()
    await page.get_by_role("button", name="Retirer").click()  # no reason
    await expect(page.get_by_role("alert")).to_contain_text("Indiquez pourquoi le rapport")
    await page.get_by_label("Pourquoi il prend fin").fill("Remplacé par le rapport trimestriel")
    await page.get_by_role("button", name="Retirer").click()
    await expect(page.get_by_role("status")).to_contain_text("Le rapport est retiré.")
    await expect(page.locator("#definitions .tag")).to_have_text("retiré")
    await admin.seen("report-retired")

    # The statistician reads the list, without the forms, and may not define one.
    stats = await open_screen(browser, system.base_url, "periodic-2-statistician")
    await sign_in(stats, "marc@mfasn.bj")
    await stats.page.goto("/statistical-reports")
    await expect(stats.page.locator("#definitions")).to_contain_text("Signalements du mois")
    assert await stats.page.get_by_role("button", name="Définir le rapport").count() == 0
    await stats.seen("reports-read-only")
    csrf = await stats.page.locator("input[name=csrf]").first.get_attribute("value")
    refused = await stats.page.request.post(
        "/statistical-reports",
        form={"csrf": csrf or "", "idem": "stat-define-0001", "title_fr": "x"},
    )
    assert refused.status == 403
