"""The frontline path in a real browser, against the real services: a hotline operator
registers a report with two children (and, on a second call, the same child again: the
screener compares the two records side by side); the screener sends the case to another
agency's unit; that unit's case worker finds the case with the child's name, records an
assessment with the child's views and adds a goal to the plan."""

from __future__ import annotations

import asyncio

import nats
import pytest
from playwright.async_api import Browser, Page, expect

from shared.sites import link_sites
from tests.portal.conftest import Screen, open_screen
from tests.portal.system import PASSWORD, System

pytestmark = [pytest.mark.system, pytest.mark.xdist_group("portal")]


async def link_office(system: System) -> None:
    """What ``relais sites`` does at the hub: its casework stream copies the office's."""
    assert system.nats is not None
    nc = await nats.connect(system.nats.url)
    try:
        await link_sites(
            nc.jetstream(), context="casework", site="hq", remote_site="parakou",
            remote_domain="parakou",
        )  # fmt: skip
    finally:
        await nc.close()


AGENCY, UNIT = "ocpm", "ocpm-cotonou"
POLICE, BPM = "police-cotonou", "police-cotonou-bpm"  # the unit the screener sends the case to
CHILDREN = ("Kossi Agbodjan", "Afi Agbodjan")


async def sign_in(screen: Screen, email: str, password: str = PASSWORD) -> None:
    page = screen.page
    await page.goto("/signin")
    await page.get_by_label("Adresse électronique").fill(email)
    await page.get_by_label("Mot de passe").fill(password)
    await page.get_by_role("button", name="Se connecter").click()
    await page.wait_for_load_state("load")


async def reload_until(page: Page, text: str, tries: int = 60) -> None:
    """The services apply events a moment after they answer: reload until ``text`` shows."""
    for _ in range(tries):
        if await page.get_by_text(text).count():
            return
        await asyncio.sleep(0.25)
        await page.reload()
    raise AssertionError(f"{text!r} never appeared on {page.url}")


async def test_report_screening_and_the_case(browser: Browser, system: System) -> None:
    operator = await system.account("awa@ocpm.bj", ["hotline_operator"], AGENCY, name="Awa Dossou")
    await system.account("sena@ocpm.bj", ["screener"], AGENCY, unit=UNIT, name="Séna Houngbo")
    await system.directory(AGENCY, [(UNIT, "OCPM Cotonou")], [])
    worker = await system.account(
        "koffi@police.bj", ["case_worker"], POLICE, unit=BPM, name="Koffi Ahouansou"
    )
    await system.account("mariam@police.bj", ["supervisor"], POLICE, unit=BPM, name="Mariam Bio")
    await system.directory(POLICE, [(BPM, "Brigade de protection des mineurs")], [(worker, BPM)])
    assert operator

    # -- the hotline operator: a report with two children ------------------------------------
    hotline = await open_screen(browser, system.base_url, "frontline-1-hotline")
    await sign_in(hotline, "awa@ocpm.bj")
    page = hotline.page
    await expect(page.get_by_role("heading", name="Nouveau signalement")).to_be_visible()
    await hotline.seen("new-report")
    await page.get_by_label("Comment le signalement est arrivé").select_option("hotline_116")
    await page.get_by_label("Commune où se trouve l'enfant").fill("Cotonou — Littoral")
    await page.get_by_label("Négligence").check()
    await page.get_by_label("Travail des enfants", exact=False).first.check()
    first = page.locator("#f-children-0")
    await first.get_by_label("Nom ou surnom", exact=True).fill(CHILDREN[0])
    await first.get_by_label("Sexe", exact=True).select_option("male")
    await first.get_by_label("Âge en années, si connu").fill("11")
    await page.get_by_role("button", name="Ajouter un autre enfant").click()
    second = page.locator("#f-children-1")
    await expect(second).to_be_visible()
    await second.get_by_label("Nom ou surnom", exact=True).fill(CHILDREN[1])
    await second.get_by_label("Sexe", exact=True).select_option("female")
    await second.get_by_label("Âge en années, si connu").fill("9")
    await hotline.seen("new-report-filled")
    await page.get_by_role("button", name="Enregistrer le signalement").click()
    await expect(page.get_by_text("Le signalement est enregistré.")).to_be_visible()
    for name in CHILDREN:
        await expect(page.get_by_role("heading", name=name)).to_be_visible()
    await hotline.seen("report-saved")
    report_url = page.url.split("?")[0]
    await page.get_by_role("link", name="Mes signalements récents").click()
    await expect(page.get_by_role("heading", name="Mes signalements récents")).to_be_visible()
    await expect(page.get_by_text("2 enfants")).to_be_visible()
    await hotline.seen("my-recent-reports")

    # A second call about the first child: the portal shows the earlier record may be his.
    page = hotline.page
    await page.goto("/reports/new")
    await page.get_by_label("Comment le signalement est arrivé").select_option("walk_in")
    await page.get_by_label("Commune où se trouve l'enfant").fill("cotonou")
    await page.get_by_label("Négligence").check()
    await page.locator("#f-children-0-name").fill("Kossi Agbodjan")
    await page.locator("#f-children-0-sex").select_option("male")
    await page.locator("#f-children-0-age_years").fill("11")
    await page.get_by_role("button", name="Enregistrer le signalement").click()
    await expect(
        page.get_by_text("dossier antérieur concerne peut-être ce même enfant")
    ).to_be_visible()
    await hotline.seen("second-report-duplicate")
    second_report = page.url.split("?")[0]

    # -- the screener: the queue, the same child?, the report, the decision ------------------
    screener = await open_screen(browser, system.base_url, "frontline-2-screener")
    await sign_in(screener, "sena@ocpm.bj")
    page = screener.page
    await expect(page.get_by_role("heading", name="File de tri")).to_be_visible()
    await screener.seen("screening-queue")
    await page.goto(second_report.removeprefix(system.base_url))
    await page.get_by_role("link", name="Comparer", exact=False).click()
    await expect(page.get_by_role("heading", name="S'agit-il du même enfant ?")).to_be_visible()
    await expect(page.get_by_text("Ce qui concorde : Nom, Sexe, Âge, Commune")).to_be_visible()
    await screener.seen("duplicate-side-by-side")
    await page.get_by_role("button", name="Oui, le même enfant").click()
    await expect(page.get_by_text("Aucun dossier antérieur ne ressemble")).to_be_visible()
    await page.goto(report_url.removeprefix(system.base_url))
    await expect(page.get_by_role("heading", name="Tri")).to_be_visible()
    assert page.url.split("?")[0] == report_url
    await page.get_by_label("Relève de la protection : ouvrir un dossier").check()
    await page.locator("#f-urgency").select_option("high")
    await page.get_by_label("Pourquoi").fill("Deux enfants au travail la nuit, sans soins.")
    # Where the case goes: the police's child protection unit, from the directory.
    await page.locator("#f-receiving_agency").select_option(POLICE)
    units = page.locator("#f-receiving_unit")
    await expect(units.locator(f"option[value='{BPM}']")).to_have_count(1)  # htmx: its units
    await units.select_option(BPM)
    await screener.seen("screening-form")
    await page.get_by_role("button", name="Enregistrer le tri").click()
    await expect(page.get_by_text("Le tri est enregistré")).to_be_visible()
    await screener.seen("screening-saved")

    # -- the case worker: the case, an assessment with the child's views, a goal -------------
    caseworker = await open_screen(browser, system.base_url, "frontline-3-case-worker")
    await sign_in(caseworker, "koffi@police.bj")
    page = caseworker.page
    await expect(page.get_by_role("heading", name="Mes dossiers")).to_be_visible()
    await reload_until(page, "Enregistrement")
    await caseworker.seen("my-cases")
    await page.locator(".card a").first.click()
    await expect(page.get_by_role("heading", name="Prochaine étape")).to_be_visible()
    # The agency that owns the case sees the child's name (the screener's does not own it).
    named = [await page.get_by_role("heading", name=n, exact=True).count() for n in CHILDREN]
    assert sum(named) == 1, named
    # Which site owns the case (decision 0029): this single-site system's own.
    facts = page.locator("dl.facts")
    await expect(facts).to_contain_text("Site propriétaire du dossier")
    await expect(facts.locator("dt", has_text="Site propriétaire").locator("+ dd")).to_have_text(
        "hq"
    )
    await caseworker.seen("case-new")
    await page.locator("#f-assignment-supervisor_id").select_option(label="Mariam Bio")
    await page.get_by_role("button", name="Affecter").click()
    await expect(page.get_by_text("Enregistré.")).to_be_visible()
    await page.get_by_role("button", name="Passer à : Évaluation initiale").click()
    await expect(page.get_by_text("Enregistrez l'évaluation initiale")).to_be_visible()
    await caseworker.seen("case-assessment-due")
    form = page.locator("#form-assessment")
    await form.get_by_label("Niveau de risque").select_option("medium")
    await form.get_by_label("Ce que l'enfant a dit, avec ses mots").fill(
        "Il veut retourner à l'école et ne plus travailler au marché."
    )
    await form.get_by_label("Besoins (un par ligne)").fill("scolarité\nsoutien familial")
    await form.get_by_role("button", name="Enregistrer l'évaluation").click()
    await expect(page.get_by_text("Évaluation initiale · risque Moyen")).to_be_visible()
    await expect(page.get_by_text("l'opinion de l'enfant est consignée").first).to_be_visible()
    await caseworker.seen("case-assessed")
    await page.get_by_role("button", name="Passer à : Évaluation approfondie").click()
    form = page.locator("#form-assessment")
    await form.get_by_label("Niveau de risque").select_option("medium")
    await form.get_by_label("Si l'enfant n'a pas pu être entendu, pourquoi").select_option("safety")
    await form.get_by_role("button", name="Enregistrer l'évaluation").click()
    await expect(page.get_by_text("Évaluation approfondie · risque Moyen")).to_be_visible()
    await page.get_by_role("button", name="Passer à : Plan d'intervention").click()
    await expect(page.get_by_text("Ajoutez le premier objectif")).to_be_visible()
    form = page.locator("#form-goal")
    await form.get_by_label("Objectif").fill("L'enfant retourne à l'école à la rentrée.")
    await form.get_by_role("button", name="Ajouter l'objectif").click()
    await expect(
        page.get_by_role("heading", name="L'enfant retourne à l'école à la rentrée.")
    ).to_be_visible()
    await expect(page.get_by_text("Objectif ajouté au plan")).to_be_visible()
    await caseworker.seen("case-plan")
    # A case worker is not offered the move to another site (decision 0030).
    assert await page.get_by_text("Transférer le dossier vers un autre site").count() == 0
    case_path = page.url.split("?")[0].split("#")[0].removeprefix(system.base_url)

    # -- the supervisor: the case moves to another site, confirmed ---------------------------
    supervisor = await open_screen(browser, system.base_url, "frontline-4-supervisor")
    await sign_in(supervisor, "mariam@police.bj")
    page = supervisor.page
    await page.goto(case_path)
    await page.get_by_text("Transférer le dossier vers un autre site").click()
    form = page.locator("#form-site_transfer")
    # No other site known yet: the site is typed, and a site casework does not know is
    # refused beside the field (released to it, the case could be changed nowhere).
    await form.get_by_role("textbox", name="Site destinataire").fill("parakuo")
    await form.get_by_label("Pourquoi le dossier change de site").fill("La famille part au nord.")
    await form.get_by_role("checkbox", name="Je confirme").check()
    await form.get_by_role("button", name="Transférer vers ce site").click()
    await expect(page.locator("#f-site_transfer-to_site-error")).to_contain_text(
        "Le site parakuo n'est pas connu ici"
    )
    await supervisor.seen("site-transfer-unknown-site")
    # Once the operator links the office, the sites known are offered as a choice.
    await link_office(system)
    await page.goto(case_path)
    await page.get_by_text("Transférer le dossier vers un autre site").click()
    form = page.locator("#form-site_transfer")
    await form.get_by_role("combobox", name="Site destinataire").select_option("parakou")
    await form.get_by_label("Pourquoi le dossier change de site").fill("La famille part au nord.")
    await form.get_by_role("button", name="Transférer vers ce site").click()
    await expect(page.get_by_text("Cochez la case pour confirmer").first).to_be_visible()
    form = page.locator("#form-site_transfer")
    await expect(page.locator("#f-site_transfer-to_site")).to_have_value("parakou")
    await supervisor.seen("site-transfer-unconfirmed")
    await form.get_by_role("checkbox", name="Je confirme").check()
    await form.get_by_role("button", name="Transférer vers ce site").click()
    await expect(page.get_by_text("Enregistré", exact=False).first).to_be_visible()
    facts = page.locator("dl.facts")
    await expect(facts).to_contain_text("En cours de transfert vers")
    await expect(facts).to_contain_text("le site parakou")
    await supervisor.seen("site-transfer-released")
    for screen in (hotline, screener, caseworker, supervisor):
        await screen.page.context.close()
