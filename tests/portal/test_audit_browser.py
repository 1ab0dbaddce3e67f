"""The auditor in a real browser: a case's history now and as of a moment before it existed,
who read the case, and the log's verification run on demand through reporting, its progress
shown until its result; an auditor posting a form on a case is refused."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.async_api import Browser, expect

from tests.portal.conftest import open_screen
from tests.portal.system import System
from tests.portal.test_frontline_browser import reload_until, sign_in

pytestmark = [pytest.mark.system, pytest.mark.xdist_group("portal")]

AGENCY = "ocpm-natitingou"


async def a_case(system: System) -> str:
    operator = system.token("hotline_operator", "op-audit", AGENCY)
    body = {
        "channel": "walk_in",
        "received_at": (datetime.now(UTC) - timedelta(minutes=20)).isoformat(),
        "commune": "bj-atacora-natitingou",
        "concerns": ["neglect"],
        "children": [{"name": "Yaya Sambiéni", "sex": "male", "age_years": 8}],
    }
    report = await system.ok("intake", "POST", "/reports", operator, body, status=201)
    screener = {
        **system.token("screener", "scr-audit", AGENCY),
        "If-Match": f'"{report["version"]}"',
    }
    screening = {"decision": "protection_concern", "urgency": "high", "rationale": "Négligence"}
    await system.ok(
        "intake", "POST", f"/reports/{report['report_id']}/screening", screener, screening
    )
    boss = system.token("supervisor", "sup-audit", AGENCY)
    for _ in range(100):
        found: dict[str, Any] = await system.ok("casework", "GET", "/cases", boss)
        if found["items"]:
            case_id: str = found["items"][0]["case_id"]
            await system.ok("casework", "GET", f"/cases/{case_id}", boss)  # a read, recorded
            return case_id
        await asyncio.sleep(0.1)
    raise AssertionError("no case was opened")


async def test_the_auditor_replays_a_case_sees_reads_and_verifies_the_log(
    browser: Browser, system: System
) -> None:
    await system.account("ines@igs.bj", ["auditor"], "igs", name="Inès Gbaguidi")
    case_id = await a_case(system)
    await system.caught_up("reporting", "CASEWORK")
    await system.caught_up("reporting", "AUDIT")

    screen = await open_screen(browser, system.base_url, "audit-1-auditor")
    await sign_in(screen, "ines@igs.bj")
    page = screen.page
    await page.get_by_role("link", name="Audit").first.click()
    await expect(page.get_by_role("heading", name="Audit", exact=True)).to_be_visible()
    await screen.seen("audit-home")

    # -- the case now, then as of yesterday (before it existed) -------------------------------
    await page.get_by_label("Identifiant du dossier").fill(case_id)
    await page.get_by_role("button", name="Afficher l'historique").click()
    await expect(page.locator("#events li").first).to_be_visible()
    now_events = await page.locator("#events li").count()
    assert now_events >= 2
    await expect(page.locator("#events")).to_contain_text("CaseOpened")
    await screen.seen("case-history")
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    await page.get_by_label("À la date du").fill(yesterday)
    await page.get_by_label("À", exact=True).fill("12:00")
    await page.get_by_role("button", name="Afficher l'historique").click()
    await expect(page.locator("#as-of")).to_contain_text("ce que le journal contenait alors")
    assert await page.locator("#events li").count() == 0
    await screen.seen("case-history-as-of")

    # -- who read the case --------------------------------------------------------------------
    await page.goto(f"/audit/access?record_id={case_id}")
    await reload_until(page, "sup-audit")
    await expect(page.locator("#reads")).to_contain_text("(auditor, igs)")  # her own read
    await screen.seen("access")

    # -- the verification, on demand, with its progress ---------------------------------------
    await page.goto("/audit")
    await page.get_by_role("button", name="Lancer la vérification").click()
    status = page.locator("#verification-status")
    await expect(status).to_have_text(
        re.compile("Le journal est intègre|problèmes|En cours"), timeout=15_000
    )
    await expect(status).to_contain_text("Le journal est intègre", timeout=30_000)
    assert int(await page.locator("#events-checked").inner_text()) > 0
    await screen.seen("verification")
    box = await page.request.get("/audit/verification")  # what htmx asks for while it runs
    assert box.status == 200 and 'id="verification-box"' in await box.text()
    assert "hx-get" not in await box.text()  # done: it stops asking

    # -- refused: a form on a case ------------------------------------------------------------
    csrf = await page.locator("input[name=csrf]").first.get_attribute("value")
    refused = await page.request.post(
        f"/cases/{case_id}/note",
        form={"csrf": csrf or "", "idem": "auditor-note-0001", "text": "Je note"},
    )
    assert refused.status == 403
