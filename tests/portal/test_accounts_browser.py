"""Accounts: ``relais user add`` makes an agency's first administrator and prints a one-time
set-up link; the administrator chooses a password through it, creates a colleague, changes
her roles and disables her; each change is an event on AUDIT naming who made it, and neither
a password nor its hash ever reaches the log."""

from __future__ import annotations

import asyncio
import json
import os
import sys

import nats
import pytest
from playwright.async_api import Browser, expect

from shared.reading import iter_stored
from tests.portal.conftest import open_screen
from tests.portal.system import System

pytestmark = [pytest.mark.system, pytest.mark.xdist_group("portal")]

AGENCY = "ong-enfance"
ADMIN_PASSWORD = "le fleuve Ouémé en crue"
COLLEAGUE_PASSWORD = "trois tortues sous le manguier"


async def relais(system: System, *args: str) -> tuple[int, str, str]:
    assert system.settings is not None and system.nats is not None
    env = {
        **os.environ,
        "NATS_URL": system.nats.url,
        "RELAIS_PORTAL_URL": system.base_url,
        "RELAIS_DATA_DIR": str(system.settings.data_dir),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "relais.cli",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    return process.returncode or 0, out.decode(), err.decode()


async def account_events(system: System) -> list[dict[str, object]]:
    assert system.nats is not None
    nc = await nats.connect(system.nats.url)
    try:
        return [
            json.loads(msg.data)
            async for _, _, msg in iter_stored(nc, "AUDIT", "audit.*.account.*.*")
        ]
    finally:
        await nc.close()


async def test_the_first_administrator_and_her_colleagues(browser: Browser, system: System) -> None:
    code, out, err = await relais(
        system,
        "user",
        "add",
        "--agency",
        AGENCY,
        "--role",
        "agency_admin",
        "--email",
        "Nadia@Ong.bj",
        "--name",
        "Nadia Sossou",
    )
    assert code == 0, err
    link = out.strip().splitlines()[-1]
    assert link.startswith(f"{system.base_url}/setup/")
    code, _, err = await relais(
        system,
        "user",
        "add",
        "--agency",
        AGENCY,
        "--role",
        "agency_admin",
        "--email",
        "nadia@ong.bj",
    )
    assert code == 1 and "already exists" in err  # one account per address

    screen = await open_screen(browser, system.base_url, "accounts-1-admin")
    page = screen.page
    await page.goto(link.removeprefix(system.base_url))
    await expect(page.get_by_text("Compte : nadia@ong.bj")).to_be_visible()
    await screen.seen("setup-link")
    await page.get_by_label("Nouveau mot de passe").fill("court")
    await page.get_by_label("Le même mot de passe à nouveau").fill("court")
    await page.get_by_role("button", name="Enregistrer mon mot de passe et me connecter").click()
    await expect(page.locator("#f-password-error")).to_contain_text("Au moins 10 caractères")
    await page.get_by_label("Nouveau mot de passe").fill(ADMIN_PASSWORD)
    await page.get_by_label("Le même mot de passe à nouveau").fill(ADMIN_PASSWORD)
    await page.get_by_role("button", name="Enregistrer mon mot de passe et me connecter").click()
    await expect(page.get_by_role("heading", name=f"Utilisateurs de {AGENCY}")).to_be_visible()
    await screen.seen("users")

    await page.get_by_text("Créer un utilisateur").click()
    create = page.locator("#create-user")
    await create.get_by_label("Adresse électronique").fill("carine@ong.bj")
    await create.get_by_label("Nom", exact=True).fill("Carine Adjovi")
    await create.get_by_label("Agent de tri").check()
    await create.get_by_role("button", name="Créer et obtenir le lien de création").click()
    await expect(page.get_by_role("heading", name="Le compte est créé")).to_be_visible()
    await screen.seen("user-created")
    colleague_link = await page.locator("#link").input_value()

    # The link works once: used here, then refused.
    colleague = await open_screen(browser, system.base_url, "accounts-2-colleague")
    other = colleague.page
    path = colleague_link.removeprefix(system.base_url)
    await other.goto(path)
    await other.get_by_label("Nouveau mot de passe").fill(COLLEAGUE_PASSWORD)
    await other.get_by_label("Le même mot de passe à nouveau").fill(COLLEAGUE_PASSWORD)
    await other.get_by_role("button", name="Enregistrer mon mot de passe et me connecter").click()
    await expect(other.get_by_role("heading", name="File de tri")).to_be_visible()
    await other.goto(path)
    await expect(other.get_by_role("heading", name="Ce lien ne fonctionne plus")).to_be_visible()
    await colleague.seen("link-used")

    # Roles change (screener becomes intake officer too); then she is disabled: out at once.
    await page.goto("/admin/users")
    card = page.locator(".card", has_text="carine@ong.bj")
    await card.get_by_text("Modifier les rôles ou l'unité").click()
    await card.get_by_label("Agent d'accueil et d'enregistrement").check()
    await card.get_by_role("button", name="Enregistrer les rôles").click()
    await expect(page.get_by_text("Enregistré.")).to_be_visible()
    await other.goto("/")
    await expect(other.get_by_role("link", name="Nouveau signalement")).to_be_visible()
    card = page.locator(".card", has_text="carine@ong.bj")
    await card.get_by_role("button", name="Désactiver").click()
    await expect(
        page.locator(".card", has_text="carine@ong.bj").get_by_text("désactivé")
    ).to_be_visible()
    await screen.seen("user-disabled")
    await other.goto("/reports/new")
    await expect(other.get_by_role("heading", name="Se connecter à Relais")).to_be_visible()

    events = await account_events(system)
    kinds = [str(e["type"]).split(".")[3] for e in events]
    assert kinds.count("AccountCreated") == 2 and "AccountRolesChanged" in kinds
    assert "AccountDisabled" in kinds and kinds.count("PasswordSet") == 2
    admin = next(e for e in events if str(e["type"]).endswith("AccountCreated.v1"))
    assert str(admin["actor"]).startswith("operator:")
    nadia = admin["subject"]
    for event in events:
        if str(event["type"]).split(".")[3] in ("AccountRolesChanged", "AccountDisabled"):
            assert event["actor"] == nadia and event["actoragency"] == AGENCY
    raw = json.dumps(events)
    for secret in (ADMIN_PASSWORD, COLLEAGUE_PASSWORD, "argon2", "$argon"):
        assert secret not in raw
    for screen_ in (screen, colleague):
        await screen_.page.context.close()
