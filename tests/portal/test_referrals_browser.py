"""Finding and referring, answering, supervising, in a real browser against the real services:
a case worker near Djougou searches the directory for a psychologist for a 14-year-old girl,
refers her case from its plan action after seeing exactly what the unit will see, and follows
the answer on the case; the unit's coordinator accepts (a place is reserved), changes the
unit's places, completes (the place is released) and declines another referral with a
suggested unit, while a coordinator of another unit neither sees nor answers it; the
supervisor sees who waits for what, the caseload, and approves a closure."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from tests.portal.conftest import Screen, open_screen
from tests.portal.referral_setup import Unit, agency, case_with_action, unit
from tests.portal.system import System
from tests.portal.test_frontline_browser import sign_in

pytestmark = [pytest.mark.system, pytest.mark.xdist_group("portal")]

CPS, CPS_UNIT = "cps-djougou", "cps-djougou-1"  # the referring agency
TCHALA = "ong-tchala"  # the receiving NGO
OTHER = "ong-kpassa"  # an NGO whose coordinator must not see the referral
PSY = Unit("tchala-psy", "Écoute Tchala", TCHALA, sexes=("female",), min_age=10, places=2)
BOYS = Unit("tchala-garcons", "Foyer des garçons", TCHALA, sexes=("male",), places=4)
FAR = Unit("tchala-copargo", "Antenne de Copargo", TCHALA, commune="bj-donga-copargo")
KPASSA = Unit("kpassa-droit", "Kpassa droit", OTHER, service_kinds=("legal_aid",), places=1)
WORKER, SUPERVISOR = "rachida@cps.bj", "gildas@cps.bj"
COORDINATOR, STRANGER = "nafi@tchala.bj", "yao@kpassa.bj"


@pytest.fixture(scope="module")
async def world(system: System) -> dict[str, Any]:
    worker = await system.account(WORKER, ["case_worker"], CPS, unit=CPS_UNIT, name="Rachida Bello")
    supervisor = await system.account(
        SUPERVISOR, ["supervisor"], CPS, unit=CPS_UNIT, name="Gildas Sossa"
    )
    await system.directory(CPS, [(CPS_UNIT, "CPS Djougou")], [(worker, CPS_UNIT)])
    for agency_id, units in ((TCHALA, (PSY, BOYS, FAR)), (OTHER, (KPASSA,))):
        await agency(system, agency_id)
        for u in units:
            await unit(system, u)
    await system.account(COORDINATOR, ["unit_coordinator"], TCHALA, unit=PSY.unit_id, name="Nafi")
    await system.account(STRANGER, ["unit_coordinator"], OTHER, unit=KPASSA.unit_id, name="Yao")
    case = await case_with_action(system, CPS, worker, supervisor)
    return {"worker": worker, "supervisor": supervisor, "case": case}


async def signed_in_screen(browser: Browser, system: System, test: str, email: str) -> Screen:
    screen = await open_screen(browser, system.base_url, test)
    await sign_in(screen, email)
    return screen


async def csrf_of(page: Page) -> str:
    return str(await page.locator("input[name=csrf]").first.get_attribute("value"))


async def test_a_case_worker_finds_a_unit_and_refers(
    browser: Browser, system: System, world: dict[str, Any]
) -> None:
    case_id = world["case"]["case_id"]
    screen = await signed_in_screen(browser, system, "referrals-1-case-worker", WORKER)
    page = screen.page
    await page.goto(f"/cases/{case_id}")
    await expect(page.get_by_role("heading", name="Orientations")).to_be_visible()
    await expect(page.get_by_text("Aucune orientation pour l'instant")).to_be_visible()
    await page.get_by_role("link", name="Trouver une unité et orienter").click()

    # The directory, prefilled from the action and the case: psychological, female, Djougou.
    await expect(page.get_by_role("heading", name="Trouver un service")).to_be_visible()
    await expect(page.get_by_label("Sexe de l'enfant")).to_have_value("female")
    await page.get_by_label("Âge de l'enfant en années").fill("14")
    await page.get_by_role("button", name="Chercher").click()
    found = page.locator("#found > li h3")
    # Ranked as referral ranks: open with a free place in the commune first; the boys' home
    # does not take girls; Copargo (same department, no place) comes after. Units of other
    # departments come last, and only on a day they open: the directory's other units open
    # Monday to Friday, so what follows these two depends on the day the test runs.
    await expect(found.nth(0)).to_have_text("Écoute Tchala")
    await expect(found.nth(1)).to_have_text("Antenne de Copargo")
    await expect(page.locator("#found")).not_to_contain_text("Foyer des garçons")
    await screen.seen("directory-results")
    await page.get_by_label("Avec une place libre").check()
    await page.get_by_label("Ouvert maintenant").check()
    await page.get_by_role("button", name="Chercher").click()
    await expect(found).to_have_text(["Écoute Tchala"])
    await page.get_by_role("link", name="Orienter vers cette unité").click()

    # The referral: consent, what to share, and the preview before sending.
    await expect(page.get_by_role("heading", name="Orienter vers une unité")).to_be_visible()
    await expect(page.locator("#f-reason")).to_have_value(
        "Soutien psychologique après les violences"
    )
    await page.get_by_role("button", name="Voir ce que l'unité verra").click()
    await expect(page.get_by_text("Indiquez si le consentement a été donné").first).to_be_visible()
    await screen.seen("refer-refused")
    await page.get_by_label("Oui").check()
    await page.get_by_label("Qui l'a donné").select_option("guardian")
    await page.get_by_label("Quand il a été donné").fill("2026-12-01T10:30")
    await page.locator("#f-shared_fields").get_by_label("Les problématiques").check()
    await page.get_by_role("button", name="Voir ce que l'unité verra").click()
    preview = page.locator("#preview")
    await expect(
        preview.get_by_role("heading", name="Ce que l'unité destinataire verra")
    ).to_be_visible()
    await expect(preview).to_contain_text("10-14")
    await expect(preview).to_contain_text("Féminin")
    await expect(preview).to_contain_text("Violence physique")
    # Not shared, so not shown: the reason, and never the child's name.
    await expect(preview).not_to_contain_text("Soutien psychologique après")
    await expect(preview).not_to_contain_text("Rafiatou")
    await screen.seen("refer-preview")
    # A change after the preview is previewed again, not sent.
    await page.locator("#f-shared_fields").get_by_label("Motif de l'orientation").check()
    await page.get_by_role("button", name="Envoyer l'orientation").click()
    await expect(page.get_by_text("Le formulaire a changé depuis l'aperçu")).to_be_visible()
    await expect(preview).to_contain_text("Soutien psychologique après")
    await page.get_by_role("button", name="Envoyer l'orientation").click()
    await expect(page.get_by_text("L'orientation est envoyée.")).to_be_visible()
    referrals = page.locator("#referrals")
    await expect(referrals).to_contain_text("En attente de réponse")
    # The plan action now shows its referral instead of offering to refer again (casework
    # learns it from ReferralMade, a moment later).
    plan = page.locator("#plan")
    for _ in range(20):
        if await plan.get_by_text("Orientation : En attente de réponse").count():
            break
        await page.wait_for_timeout(250)
        await page.reload()
    await expect(plan).to_contain_text("Orientation : En attente de réponse")
    await expect(plan.get_by_role("link", name="Trouver une unité et orienter")).to_have_count(0)
    await screen.seen("case-referral-sent")
    await page.context.close()


async def _the_referral(system: System, world: dict[str, Any]) -> dict[str, Any]:
    worker = system.token("case_worker", world["worker"], CPS)
    listed = await system.ok(
        "referral", "GET", f"/referrals?case_id={world['case']['case_id']}", worker
    )
    if listed["items"]:
        return dict(listed["items"][0])
    return await _refer(system, world, PSY.unit_id, "psych-1")


async def _refer(system: System, world: dict[str, Any], to_unit: str, key: str) -> dict[str, Any]:
    case = world["case"]
    worker = {
        **system.token("case_worker", world["worker"], CPS),
        "Idempotency-Key": key,
    }
    body = {
        "case_id": case["case_id"],
        "child_id": case["child_id"],
        "to_unit": to_unit,
        "service_kind": "psychological",
        "urgency": "high",
        "reason": "Écoute après les violences",
        "consent": {"given": False, "reason_not_sought": "Urgence, tuteur injoignable"},
        "shared_fields": ["child_age_band", "urgency"],
        "details": {"child_age_band": "10-14"},
    }
    return await system.ok("referral", "POST", "/referrals", worker, body, status=201)


async def test_a_coordinator_answers_and_keeps_the_places(
    browser: Browser, system: System, world: dict[str, Any]
) -> None:
    referral = await _the_referral(system, world)
    rid = referral["referral_id"]
    screen = await signed_in_screen(browser, system, "referrals-2-coordinator", COORDINATOR)
    page = screen.page
    await expect(page.get_by_role("heading", name="Orientations reçues")).to_be_visible()
    await expect(page.get_by_text("En attente de votre réponse")).to_be_visible()
    # The sender by its name, not its code.
    await expect(page.locator(f"a[href='/inbox/{rid}']")).to_contain_text(CPS.upper())
    await screen.seen("inbox")
    await page.locator(f"a[href='/inbox/{rid}']").click()
    await expect(page.get_by_text("Tranche d'âge de l'enfant")).to_be_visible()
    await expect(page.get_by_text("Rafiatou")).to_have_count(0)
    await screen.seen("referral")
    await page.get_by_role("button", name="Accepter l'orientation").click()
    await expect(page.get_by_text("Enregistré.")).to_be_visible()
    await expect(page.locator("dl.facts")).to_contain_text("Acceptée")

    # The unit: a place is reserved; the coordinator adds one.
    await page.get_by_role("link", name="Mon unité").click()
    capacity = page.locator("#capacity dl.facts")
    await expect(capacity).to_contain_text(
        re.compile(r"Réservées par des orientations acceptées\s*1")
    )
    await expect(capacity).to_contain_text(re.compile(r"Libres\s*1"))
    await expect(page.locator("dl.facts").first).to_contain_text(TCHALA.upper())
    await expect(page.locator("#entry")).to_be_visible()
    await screen.seen("unit")
    await page.get_by_text("Modifier les places").click()
    await page.get_by_label("Places au total").fill("3")
    await page.get_by_role("button", name="Enregistrer les places").click()
    await expect(page.get_by_text("Enregistré.")).to_be_visible()
    await expect(capacity).to_contain_text(re.compile(r"Libres\s*2"))
    # The entry: open on Saturdays only from now on.
    await page.get_by_text("Modifier ce que l'unité offre").click()
    await page.locator("#f-entry-hours-sat").fill("09:00-12:00")
    await page.get_by_role("button", name="Enregistrer la fiche").click()
    await expect(page).to_have_url(re.compile("done=saved"))
    await expect(page.locator("dl.facts").first).to_contain_text("Samedi 09:00-12:00")
    await screen.seen("unit-saved")

    # Completing releases the place.
    await page.goto(f"/inbox/{rid}")
    await page.get_by_label("Ce que l'unité a fourni").fill("Quatre séances d'écoute")
    await page.get_by_role("button", name="Marquer comme terminée").click()
    await expect(page.locator("dl.facts")).to_contain_text("Terminée")
    await page.goto("/unit")
    await expect(capacity).to_contain_text(
        re.compile(r"Réservées par des orientations acceptées\s*0")
    )
    # A place held by hand for a child placed outside Relais, then released.
    await page.get_by_text("Réserver une place").click()
    await page.get_by_label("Motif de la réservation").fill("Placement du juge hors Relais")
    await page.get_by_label("Jusqu'au (facultatif)").fill("2099-06-30")
    await page.get_by_role("button", name="Réserver la place").click()
    await expect(page).to_have_url(re.compile("done=saved"))
    await expect(capacity).to_contain_text(re.compile(r"Réservées à la main\s*1"))
    await expect(capacity).to_contain_text(re.compile(r"Libres\s*2"))
    await expect(page.locator("#holds")).to_contain_text("jusqu'au 2099-06-30")
    await screen.seen("unit-held")
    await page.get_by_role("button", name="Libérer la place réservée").click()
    await expect(page.get_by_text("Aucune place n'est réservée à la main.")).to_be_visible()
    await expect(capacity).to_contain_text(re.compile(r"Libres\s*3"))

    # Another referral, declined with a reason and a suggested unit.
    second = await _refer(system, world, PSY.unit_id, "psych-2")
    await page.goto(f"/inbox/{second['referral_id']}")
    await page.get_by_role("button", name="Refuser l'orientation").click()
    await expect(page.get_by_text("Écrivez-le : le référent le lira.").first).to_be_visible()
    await screen.seen("decline-refused")
    await page.get_by_label("Pourquoi vous refusez").fill(
        "Notre psychologue est absente ce mois-ci"
    )
    await page.get_by_label("Une unité qui pourrait accueillir l'enfant").select_option(FAR.unit_id)
    await page.get_by_role("button", name="Refuser l'orientation").click()
    await expect(page.locator("dl.facts")).to_contain_text("Refusée")
    await expect(page.locator("dl.facts")).to_contain_text(FAR.name)

    # A coordinator of another unit neither sees nor answers it.
    stranger = await signed_in_screen(browser, system, "referrals-3-stranger", STRANGER)
    other = stranger.page
    await expect(other.get_by_text("Aucune orientation n'attend de réponse.")).to_be_visible()
    await expect(other.locator(f"a[href='/inbox/{rid}']")).to_have_count(0)
    await other.goto(f"/inbox/{second['referral_id']}")
    await expect(other.get_by_role("heading", name="Introuvable")).to_be_visible()
    await stranger.seen("not-theirs")
    answer = await other.request.post(
        f"/inbox/{rid}/complete",
        form={"csrf": await csrf_of(other), "idem": "stranger-try-1", "outcome": "x"},
    )
    assert answer.status == 404
    await other.context.close()

    # The case worker reads the outcome and the refusal on the case.
    worker = await signed_in_screen(browser, system, "referrals-4-case-follow", WORKER)
    await worker.page.goto(f"/cases/{world['case']['case_id']}#referrals")
    block = worker.page.locator("#referrals")
    await expect(block).to_contain_text("Résultat : Quatre séances d'écoute")
    await expect(block).to_contain_text("Refusée : Notre psychologue est absente ce mois-ci")
    await expect(block).to_contain_text(f"l'unité suggère {FAR.name}")
    await expect(block).to_contain_text(f"Psychologique · {PSY.name}")
    await worker.seen("case-referrals")
    # One the worker no longer needs: withdrawn, with a reason.
    await _refer(system, world, PSY.unit_id, "psych-withdrawn")
    await worker.page.reload()
    await block.get_by_text("Retirer cette orientation").click()
    await block.get_by_label("Pourquoi vous la retirez").fill("La famille a trouvé une aide")
    await block.get_by_role("button", name="Retirer", exact=True).click()
    await expect(worker.page.get_by_text("L'orientation est retirée")).to_be_visible()
    await expect(block).to_contain_text("Retirée : La famille a trouvé une aide")
    for s in (screen, worker):
        await s.page.context.close()


async def test_a_supervisor_sees_who_waits_and_approves_a_closure(
    browser: Browser, system: System, world: dict[str, Any]
) -> None:
    mine = system.token("case_worker", world["worker"], CPS)
    waiting = await system.ok(
        "casework",
        "POST",
        "/cases",
        {**mine, "Idempotency-Key": "sup-case-1"},
        {
            "child": {"name": "Issa", "sex": "male", "age_years": 9},
            "concerns": ["neglect"],
            "urgency": "normal",
            "commune": "bj-donga-djougou",
            "found_at": "2026-12-01T09:00:00+01:00",
        },
        status=201,
    )
    case_id = world["case"]["case_id"]
    current = await system.ok("casework", "GET", f"/cases/{case_id}", mine)
    await system.ok(
        "casework",
        "POST",
        f"/cases/{case_id}/closure",
        {**mine, "If-Match": f'"{current["version"]}"'},
        {"reason": "goals_met"},
    )
    # A referral the unit has not answered yet.
    await _refer(system, world, PSY.unit_id, "psych-3")
    # A case the NGO asks the agency to take over.
    theirs = system.token("case_worker", "worker-tchala", TCHALA)
    offered = await system.ok(
        "casework",
        "POST",
        "/cases",
        {**theirs, "Idempotency-Key": "tchala-case-1"},
        {
            "child": {"name": "Bio", "sex": "male", "age_years": 12},
            "concerns": ["child_labour"],
            "urgency": "normal",
            "commune": "bj-donga-djougou",
            "found_at": "2026-12-01T09:00:00+01:00",
        },
        status=201,
    )
    await system.caught_up("casework", "REFERRAL")
    await system.ok(
        "casework",
        "POST",
        f"/cases/{offered['case_id']}/transfers",
        {**theirs, "If-Match": f'"{offered["version"]}"'},
        {"to_agency": CPS, "reason": "La famille s'est installée à Djougou"},
    )
    screen = await signed_in_screen(browser, system, "referrals-5-supervisor", SUPERVISOR)
    page = screen.page
    await page.goto("/supervision")
    await expect(page.get_by_role("heading", name="Qui attend quoi")).to_be_visible()
    await expect(page.locator(f"a[href='/cases/{waiting['case_id']}']").first).to_contain_text(
        "Attend un référent"
    )
    await expect(
        page.get_by_role("link", name="Attend la réponse d'une unité à une orientation")
    ).to_be_visible()
    await expect(page.get_by_role("row", name=re.compile("Rachida Bello"))).to_be_visible()
    await expect(page.get_by_text("Clôture demandée")).to_be_visible()
    await screen.seen("supervision")
    await expect(page.get_by_text(f"Transfert de {TCHALA}")).to_be_visible()
    await page.locator("#approvals").get_by_role("button", name="Approuver").click()
    await expect(page.get_by_text("Enregistré.")).to_be_visible()
    await expect(page.get_by_text("Clôture demandée")).to_have_count(0)
    decline = page.locator("#approvals").get_by_role("button", name="Refuser le dossier")
    await decline.click()
    await expect(
        page.get_by_text("Indiquez pourquoi la structure refuse le dossier.")
    ).to_be_visible()
    await screen.seen("transfer-refused")
    await page.get_by_label("Pourquoi (obligatoire pour refuser)").fill("Aucun référent libre")
    await decline.click()
    await expect(page.get_by_text("Enregistré.")).to_be_visible()
    await expect(page.get_by_text("Rien n'attend votre approbation.")).to_be_visible()
    await screen.seen("supervision-approved")

    # A case worker is not a supervisor.
    worker = await signed_in_screen(browser, system, "referrals-6-not-supervisor", WORKER)
    await worker.page.goto("/supervision")
    await expect(
        worker.page.get_by_role("heading", name="Non accessible à votre rôle")
    ).to_be_visible()
    for s in (screen, worker):
        await s.page.context.close()


async def test_an_agency_administrator_keeps_units_staff_and_trainings(
    browser: Browser, system: System, world: dict[str, Any]
) -> None:
    await system.account("admin@cps.bj", ["agency_admin"], CPS, name="Aïcha Admin")
    await system.account("admin@tchala.bj", ["agency_admin"], TCHALA, name="Tchala Admin")
    screen = await signed_in_screen(browser, system, "referrals-7-agency-admin", "admin@cps.bj")
    page = screen.page

    # A new unit, then its places.
    await page.get_by_role("link", name="Unités").click()
    await expect(page.get_by_role("heading", name=f"Unités de {CPS}")).to_be_visible()
    await expect(page.locator("#units")).to_contain_text("CPS Djougou")
    await page.get_by_text("Ajouter une unité").click()
    await page.get_by_role("button", name="Ajouter l'unité").click()
    await expect(page.get_by_text("Indiquez le nom de l'unité.").first).to_be_visible()
    await screen.seen("units-refused")
    await page.get_by_label("Code de l'unité").fill("cps-djougou-ecoute")
    await page.locator("#f-name").fill("Cellule d'écoute de Djougou")
    await page.get_by_label("Commune").select_option(label="Djougou — Donga")
    await page.locator("#add-unit").get_by_label("Psychologique").check()
    await page.get_by_label("Lundi").fill("08:00-17:00")
    await page.get_by_role("button", name="Ajouter l'unité").click()
    await expect(page.get_by_role("heading", name="Cellule d'écoute de Djougou")).to_be_visible()
    await page.get_by_text("Modifier les places").click()
    await page.get_by_label("Places au total").fill("4")
    await page.get_by_role("button", name="Enregistrer les places").click()
    await expect(page.locator("#capacity dl.facts")).to_contain_text(re.compile(r"Libres\s*4"))
    await screen.seen("unit-added")

    # A staff member, assessed against the social services framework, then trained.
    await page.get_by_role("link", name="Personnel").click()
    await page.get_by_text("Enregistrer un membre du personnel").click()
    await page.get_by_label("Personne").select_option(label="Gildas Sossa")
    await page.locator("#add-staff").get_by_label("Unité").select_option(CPS_UNIT)
    await page.get_by_label("Secteur (référentiel de compétences)").select_option("social_services")
    await page.get_by_label("Fonction").fill("superviseur")
    await page.get_by_role("button", name="Enregistrer", exact=True).click()
    await expect(page.locator("#members")).to_contain_text("Gildas Sossa")
    # The unit by its name, not its code.
    await expect(page.locator("#members")).to_contain_text("CPS Djougou")
    await screen.seen("staff")
    await page.get_by_role("link", name="Gildas Sossa").click()
    grid = page.locator("#competencies tbody tr")
    await expect(grid).to_have_count(7)  # the social services framework's competencies
    await expect(page.locator("#competencies")).not_to_contain_text("Répond aux attentes")
    await page.get_by_text("Enregistrer une évaluation").click()
    await page.locator("#f-competency").select_option(index=1)
    await page.get_by_label("Niveau").select_option("meets_expectations")
    await page.get_by_label("Évalué par").fill("IBCR")
    await page.locator("#f-assessed_on").fill("2026-11-20")
    await page.get_by_role("button", name="Enregistrer l'évaluation").click()
    await expect(page.get_by_text("Enregistré.")).to_be_visible()
    await expect(grid.first).to_contain_text("Répond aux attentes")
    await screen.seen("member-assessed")
    member_url = page.url.split("?")[0].removeprefix(system.base_url)

    await page.get_by_role("link", name="Formations").click()
    await page.get_by_text("Enregistrer une formation").click()
    await page.get_by_label("Tenue le").fill("2026-11-18")
    await page.get_by_label("Thème").fill("Entretien avec l'enfant victime")
    await page.get_by_label("Formateur").fill("IBCR")
    await page.get_by_label("Gildas Sossa").check()
    await page.get_by_role("button", name="Enregistrer la formation").click()
    await expect(page.locator("#sessions")).to_contain_text("Entretien avec l'enfant victime")
    await expect(page.locator("#sessions")).to_contain_text("1 participant")
    await screen.seen("trainings")

    # Another agency's administrator sees neither the member nor the unit.
    other = await signed_in_screen(browser, system, "referrals-8-other-admin", "admin@tchala.bj")
    await other.page.goto(member_url)
    await expect(other.page.get_by_role("heading", name="Introuvable")).to_be_visible()
    await other.page.goto("/admin/units/cps-djougou-ecoute")
    await expect(other.page.get_by_role("heading", name="Introuvable")).to_be_visible()
    await other.seen("not-theirs")
    for s in (screen, other):
        await s.page.context.close()
