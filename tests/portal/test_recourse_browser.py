"""Recourse in a real browser: a family complains on the public page with no account (in
English), gets a tracking code and follows it; the page refuses a fourth complaint from the
same address within the hour; the oversight body acknowledges then resolves it, and the
family's tracking code shows each step and nothing else; the actor complained about cannot
see it, and an auditor reads it without being able to act on it (decision 0025)."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.async_api import Browser, expect

from tests.portal.conftest import open_screen
from tests.portal.system import System
from tests.portal.test_frontline_browser import sign_in

pytestmark = [pytest.mark.system, pytest.mark.xdist_group("portal")]

WHERE = "Commissariat de Djougou"
ACCOUNT = "L'agent a giflé ma fille pendant l'audition et l'a insultée."


async def test_a_family_complains_and_oversight_resolves(browser: Browser, system: System) -> None:
    accused = await system.account("agent7@police-djougou.bj", ["case_worker"], "police-djougou")
    await system.account("ines@inspection.bj", ["oversight"], "inspection", name="Inès Adjovi")
    await system.account("paul@audit.bj", ["auditor"], "audit", name="Paul Zinsou")

    # -- the family, no account, in English ----------------------------------------------------
    family = await open_screen(browser, system.base_url, "recourse-1-public")
    page = family.page
    await page.goto("/complaint")
    await page.get_by_role("button", name="English").click()
    await expect(page.get_by_role("heading", name="Make a complaint")).to_be_visible()
    await family.seen("complaint-form")
    await page.get_by_role("button", name="Send the complaint").click()  # nothing filled
    await expect(page.get_by_role("alert")).to_contain_text("Say who is making the complaint.")
    await family.seen("complaint-refused")
    await page.get_by_label("Family of the child").check()
    await page.get_by_label("Who treated the child badly?").fill(accused)
    await page.get_by_label("Where did it happen?").fill(WHERE)
    await page.get_by_label("What happened?").fill(ACCOUNT)
    await page.get_by_role("button", name="Send the complaint").click()
    await expect(page.get_by_role("heading", name="Complaint received")).to_be_visible()
    code = (await page.locator("#tracking-code").inner_text()).strip()
    assert re.fullmatch(r"[0-9A-Z]{4}(-[0-9A-Z]{4}){3}", code), code
    await family.seen("complaint-filed")
    await page.get_by_role("link", name="Follow a complaint").click()
    await page.get_by_label("Tracking code").fill(code.lower().replace("-", " "))
    await page.get_by_role("button", name="See the status").click()
    await expect(page.locator("#complaint-status")).to_have_text("Received, waiting to be examined")
    assert ACCOUNT not in await page.content() and WHERE not in await page.content()
    await family.seen("complaint-status")
    await page.get_by_label("Tracking code").fill("AAAA-BBBB-CCCC-DDDD")
    await page.get_by_role("button", name="See the status").click()
    await expect(page.get_by_role("alert")).to_contain_text("No complaint has this tracking code")

    # -- the rate limit: three complaints an hour from one address -----------------------------
    async with httpx.AsyncClient(base_url=system.base_url) as client:
        for n in range(2, 5):
            await client.get("/complaint")
            pre = client.cookies.get("relais_pre")
            answer = await client.post(
                "/complaint",
                data={
                    "csrf": pre,
                    "idem": f"rate-limit-{n:04d}",
                    "complainant": "anonymous",
                    "about_user": "un agent",
                    "about_agency": "Parakou",
                    "account": f"Plainte numéro {n}",
                },
            )
            assert answer.status_code == (200 if n < 4 else 429), (n, answer.status_code)
        assert "Trop de demandes" in answer.text
    await page.goto("/complaint")
    await page.get_by_label("Someone else").check()
    await page.get_by_label("Who treated the child badly?").fill("quelqu'un")
    await page.get_by_label("Where did it happen?").fill("Natitingou")
    await page.get_by_label("What happened?").fill("Encore une plainte")
    await page.get_by_role("button", name="Send the complaint").click()
    await expect(page.get_by_role("alert")).to_contain_text("Too many requests")
    await expect(page.get_by_label("What happened?")).to_have_value("Encore une plainte")
    await family.seen("complaint-rate-limited")

    # -- the actor complained about sees nothing -----------------------------------------------
    agent = await open_screen(browser, system.base_url, "recourse-2-accused")
    await sign_in(agent, "agent7@police-djougou.bj")
    await agent.page.goto("/oversight/complaints")
    await expect(
        agent.page.get_by_role("heading", name="Non accessible à votre rôle")
    ).to_be_visible()
    await agent.seen("accused-refused")

    # -- oversight: the inbox, acknowledge, resolve --------------------------------------------
    ombud = await open_screen(browser, system.base_url, "recourse-3-oversight")
    await sign_in(ombud, "ines@inspection.bj")
    page = ombud.page
    await page.get_by_role("link", name="Plaintes").first.click()
    await expect(page.get_by_role("heading", name="Plaintes")).to_be_visible()
    await ombud.seen("inbox")
    await page.get_by_role("link", name=re.compile(WHERE)).click()
    await expect(page.get_by_text(ACCOUNT)).to_be_visible()
    complaint_url = page.url
    await ombud.seen("complaint")
    await page.get_by_label("Note (facultative)").fill("Enquête ouverte")
    await page.get_by_role("button", name="Accuser réception").click()
    await expect(page.locator("#complaint-status")).to_have_text(
        "En cours d'examen par l'organe de contrôle"
    )
    await page.get_by_role("button", name="Clore la plainte").click()  # nothing chosen
    await expect(page.get_by_role("alert")).to_contain_text("Indiquez si la plainte est fondée.")
    await ombud.seen("resolution-refused")
    await page.get_by_label("Fondée", exact=True).check()
    await page.get_by_label("Ce qui a été constaté et fait").fill("Agent suspendu, famille reçue.")
    await page.get_by_role("button", name="Clore la plainte").click()
    await expect(page.locator("#complaint-status")).to_have_text("Close par l'organe de contrôle")
    await ombud.seen("resolved")

    # -- the family's code shows the steps, and nothing of the resolution ----------------------
    page = family.page
    await page.goto("/complaint/follow")
    await page.get_by_label("Tracking code").fill(code)
    await page.get_by_role("button", name="See the status").click()
    await expect(page.locator("#complaint-status")).to_have_text("Closed by the oversight body")
    content = await page.content()
    assert "Agent suspendu" not in content and "Enquête ouverte" not in content

    # -- the auditor reads, and may not act ----------------------------------------------------
    auditor = await open_screen(browser, system.base_url, "recourse-4-auditor")
    await sign_in(auditor, "paul@audit.bj")
    await auditor.page.goto(complaint_url)
    await expect(auditor.page.get_by_text(ACCOUNT)).to_be_visible()
    assert await auditor.page.get_by_role("button", name="Clore la plainte").count() == 0
    await auditor.seen("auditor-reads")
    csrf = await auditor.page.locator("input[name=csrf]").first.get_attribute("value")
    answer = await auditor.page.request.post(
        complaint_url + "/acknowledgement",
        form={"csrf": csrf or "", "idem": "auditor-try-0001", "version": "1"},
    )
    assert answer.status == 403
    # Nor does the actor complained about reach it by its address.
    await agent.page.goto(complaint_url)
    await expect(
        agent.page.get_by_role("heading", name="Non accessible à votre rôle")
    ).to_be_visible()
    assert ACCOUNT not in await agent.page.content()
