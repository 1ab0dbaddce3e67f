"""What goes wrong, in a real browser: a wrong password and the lockout, a session that ends
while a form is being typed (nothing typed is lost), a form posted without its CSRF token,
another agency's case (the same page as a case that does not exist), a refused value (the
form comes back filled, the reason beside the field) and a case changed meanwhile (409)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import Browser, expect
from sqlalchemy import update

from services.portal.read.tables import sessions
from tests.portal.conftest import Screen, open_screen
from tests.portal.system import PASSWORD, System
from tests.portal.test_frontline_browser import sign_in

pytestmark = [pytest.mark.system, pytest.mark.xdist_group("portal")]

AGENCY, OTHER = "cps-abomey", "police-parakou"
NOW = datetime.now(UTC)


async def open_case(system: System, user: str) -> str:
    """A case opened directly by a worker of AGENCY (no report first)."""
    body = {
        "child": {"name": "Yao Dossa", "sex": "male", "age_years": 12},
        "concerns": ["neglect"],
        "urgency": "normal",
        "commune": "bj-zou-abomey",
        "found_at": (NOW - timedelta(hours=1)).isoformat(),
    }
    opened = await system.ok(
        "casework", "POST", "/cases", system.token("case_worker", user, AGENCY), body, status=201
    )
    return str(opened["case_id"])


async def test_a_wrong_password_and_the_lockout(browser: Browser, system: System) -> None:
    await system.account("ines@cps.bj", ["hotline_operator"], AGENCY)
    screen = await open_screen(browser, system.base_url, "bad-1-password")
    page = screen.page
    await sign_in(screen, "ines@cps.bj", "pas le bon mot de passe")
    error = page.locator("#f-password-error")
    await expect(error).to_have_text(
        "Erreur : L'adresse électronique ou le mot de passe n'est pas correct."
    )
    await expect(page.get_by_label("Adresse électronique")).to_have_value("ines@cps.bj")
    await screen.seen("wrong-password")
    locked = page.get_by_text("ce compte est bloqué jusqu'au")
    for _ in range(40):  # the lock comes at the 4th failure; waits in between (back-off)
        if await locked.count():
            break
        await asyncio.sleep(0.25)
        await sign_in(screen, "ines@cps.bj", "toujours pas le bon")
    await expect(locked).to_be_visible()
    await screen.seen("locked")
    await sign_in(screen, "ines@cps.bj", PASSWORD)  # the right password, but locked
    await expect(locked).to_be_visible()
    await page.context.close()


async def test_a_session_that_ends_while_typing_keeps_the_form(
    browser: Browser, system: System
) -> None:
    await system.account("paul@cps.bj", ["intake_officer"], AGENCY)
    screen = await open_screen(browser, system.base_url, "bad-2-expired-session")
    page = screen.page
    await sign_in(screen, "paul@cps.bj")
    await page.get_by_label("Comment le signalement est arrivé").select_option("walk_in")
    await page.locator("#f-commune").fill("Abomey — Zou")
    await page.get_by_label("Abandon").check()
    await page.locator("#f-children-0-name").fill("Mawuli Zinsou")
    # The session ends (idle too long) before the officer saves.
    async with system.portal.engine.begin() as conn:
        await conn.execute(update(sessions).values(last_seen_at=NOW - timedelta(hours=3)))
    await page.get_by_role("button", name="Enregistrer le signalement").click()
    await expect(page.get_by_text("Votre session a pris fin. Reconnectez-vous")).to_be_visible()
    await screen.seen("session-ended")
    await page.get_by_label("Adresse électronique").fill("paul@cps.bj")
    await page.get_by_label("Mot de passe").fill(PASSWORD)
    await page.get_by_role("button", name="Se connecter").click()
    await page.get_by_role("button", name="Revenir à mon formulaire").click()
    await expect(page.locator("#f-children-0-name")).to_have_value("Mawuli Zinsou")
    await expect(page.get_by_label("Abandon")).to_be_checked()
    await screen.seen("form-kept")
    await page.get_by_role("button", name="Enregistrer le signalement").click()
    await expect(page.get_by_text("Le signalement est enregistré.")).to_be_visible()
    await page.context.close()


async def test_a_form_without_its_csrf_token_is_refused(browser: Browser, system: System) -> None:
    await system.account("rose@cps.bj", ["hotline_operator"], AGENCY)
    screen = await open_screen(browser, system.base_url, "bad-3-csrf")
    page = screen.page
    await sign_in(screen, "rose@cps.bj")
    await page.locator("#f-children-0-name").fill("Enfant")
    await page.evaluate("() => document.querySelector('form input[name=csrf]').remove()")
    await page.get_by_role("button", name="Enregistrer le signalement").click()
    await expect(
        page.get_by_role("heading", name="Ce formulaire n'a pas pu être accepté")
    ).to_be_visible()
    await screen.seen("csrf-refused")
    # The same from another site's page: the browser sends the cookie (SameSite) only with
    # same-site requests, and without the token the portal refuses it anyway.
    answer = await page.request.post(
        "/signout/everywhere", form={"next": "/"}, headers={"Origin": "https://evil.example"}
    )
    assert answer.status == 403
    await page.goto("/reports/new")
    await expect(page.get_by_role("heading", name="Nouveau signalement")).to_be_visible()
    await page.context.close()


async def test_another_agencys_case_is_not_found(browser: Browser, system: System) -> None:
    own = await system.account("lea@cps.bj", ["case_worker"], AGENCY)
    await system.account("bio@police.bj", ["case_worker"], OTHER)
    case_id = await open_case(system, own)
    screen = await open_screen(browser, system.base_url, "bad-4-other-agency")
    page = screen.page
    await sign_in(screen, "bio@police.bj")
    await page.goto(f"/cases/{case_id}")
    foreign = await page.locator("main").inner_text()
    await screen.seen("other-agency-case")
    await page.goto("/cases/00000000-0000-7000-8000-000000000000")
    missing = await page.locator("main").inner_text()
    await screen.seen("missing-case")
    assert foreign == missing
    await expect(page.get_by_role("heading", name="Introuvable")).to_be_visible()
    await page.context.close()


async def test_a_refused_value_comes_back_beside_its_field(
    browser: Browser, system: System
) -> None:
    await system.account("joel@cps.bj", ["hotline_operator"], AGENCY)
    screen = await open_screen(browser, system.base_url, "bad-5-validation")
    page = screen.page
    await sign_in(screen, "joel@cps.bj")
    await page.get_by_label("Comment le signalement est arrivé").select_option("school")
    await page.locator("#f-commune").fill("Abomey — Zou")
    await page.get_by_label("Violence physique").check()
    await page.locator("#f-children-0-name").fill("Codjo Ahanhanzo")
    await page.locator("#f-children-0-age_years").fill("25")
    await page.get_by_role("button", name="Enregistrer le signalement").click()
    await expect(page.locator("#f-children-0-age_years-error")).to_contain_text("17")
    await expect(page.locator("#f-children-0-name")).to_have_value("Codjo Ahanhanzo")
    await expect(page.locator("#f-children-0-age_years")).to_have_value("25")
    await expect(page.get_by_label("Violence physique")).to_be_checked()
    await screen.seen("age-refused")
    # Nothing local either: no commune at all is named beside the commune.
    await page.locator("#f-commune").fill("")
    await page.locator("#f-children-0-age_years").fill("12")
    await page.get_by_role("button", name="Enregistrer le signalement").click()
    await expect(page.locator("#f-commune-error")).to_be_visible()
    await expect(page.locator("#f-children-0-age_years")).to_have_value("12")
    await page.context.close()


async def test_a_case_changed_meanwhile_offers_to_save_again(
    browser: Browser, system: System
) -> None:
    worker = await system.account("adele@cps.bj", ["case_worker"], AGENCY, name="Adèle Gbaguidi")
    case_id = await open_case(system, worker)
    screen: Screen = await open_screen(browser, system.base_url, "bad-6-conflict")
    await sign_in(screen, "adele@cps.bj")
    first, second = screen.page, await screen.page.context.new_page()
    for page in (first, second):
        await page.goto(f"/cases/{case_id}")
    for page, text in ((first, "Premier appel à la famille."), (second, "Visite à l'école.")):
        await page.locator("#note summary").click()
        await page.locator("#f-note-text").fill(text)
    await first.locator("#form-note").get_by_role("button", name="Enregistrer la note").click()
    await expect(first.get_by_text("Premier appel à la famille.")).to_be_visible()
    await second.locator("#form-note").get_by_role("button", name="Enregistrer la note").click()
    await expect(second.get_by_text("Quelqu'un a modifié ce dossier")).to_be_visible()
    await expect(second.get_by_text("Note ajoutée (Normale)").first).to_be_visible()
    await expect(second.locator("#f-note-text")).to_have_value("Visite à l'école.")
    screen.page = second
    await screen.seen("conflict")
    await second.locator("#form-note").get_by_role("button", name="Enregistrer la note").click()
    await expect(second.get_by_text("Visite à l'école.")).to_be_visible()
    await second.context.close()
