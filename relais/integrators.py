"""``relais integrators``: register, list and revoke integrators, see and redo their webhook
deliveries. Changes go to the registry file (``RELAIS_INTEGRATORS_FILE``), which the
reporting service rereads, and to the NATS accounts file, which a running embedded server is
told to reload: nothing restarts, nobody else is disconnected."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path

import nats
from nats.aio.client import Client as NATS

from relais.embedded import NatsConfigError, embedded_nats_url, replace_accounts
from shared import integrators
from shared.config import Settings
from shared.integrators import API_PREFIX, PUBLIC_STREAM, Integrator, IntegratorError
from shared.nats_accounts import ADMIN, accounts_config, load_or_create_passwords

RELOAD_CHECK_S = 5.0


@dataclass(frozen=True)
class Said:
    """What a command reports: lines for the operator, and its exit status."""

    lines: list[str]
    code: int = 0


def nats_url(settings: Settings) -> str | None:
    return settings.nats_url or embedded_nats_url(settings.data_dir / "nats")


def database_url(settings: Settings) -> str | None:
    """Reporting's database: on DATABASE_URL, or the embedded server of a running relais up."""
    from relais.rebuild import NoDatabase, find_servers

    try:
        server = find_servers(settings, settings.data_dir).database_url
    except NoDatabase:
        return None
    return settings.model_copy(update={"database_url": server}).database_url_for("reporting")


def refresh_accounts(settings: Settings, *, added: bool = False) -> tuple[str, bool]:
    """Rewrite the NATS accounts file with the registry's integrators (when this machine
    keeps one: the embedded server's, or ``RELAIS_NATS_ACCOUNTS_FILE``) and have a running
    embedded server reload it. Says what happened, and whether the server reloaded."""
    path = settings.nats_accounts_path
    if not path.exists() and settings.nats_accounts_file is None:
        return (
            "NATS: no accounts file here; regenerate your servers' accounts with "
            "`relais nats-accounts` and reload them",
            False,
        )
    from relais.consumers import service_consumers

    registry = integrators.load(settings.integrators_path)
    registered, everyone = registry.active(), list(registry.integrators.values())
    text = accounts_config(
        settings.site,
        load_or_create_passwords(settings.nats_users_path),
        service_consumers(everyone),
        registered,
    )
    try:
        reloaded = replace_accounts(path, text, new_accounts=added)
    except NatsConfigError as exc:
        raise IntegratorError(f"the NATS server would refuse the new accounts: {exc}") from None
    if reloaded:
        return f"NATS: {path} rewritten and the embedded server reloaded", True
    again = " (twice: a new account needs it)" if added else ""
    return (
        f"NATS: {path} rewritten; a server running elsewhere must reload it{again} "
        "(nats-server --signal reload, SIGHUP); relais up reads it when it starts",
        False,
    )


async def _admin(settings: Settings) -> NATS | None:
    url = nats_url(settings)
    if url is None:
        return None
    user, password = settings.nats_user, settings.nats_password
    if not user and settings.nats_users_path.exists():
        user = ADMIN
        password = json.loads(settings.nats_users_path.read_text())[ADMIN]
    try:
        return await nats.connect(
            url,
            user=user or None,
            password=password or None,
            allow_reconnect=False,
            connect_timeout=2,
        )
    except (OSError, nats.errors.Error):
        return None


async def _can_log_in(url: str, name: str, password: str) -> bool:
    deadline = asyncio.get_running_loop().time() + RELOAD_CHECK_S
    while True:
        try:
            nc = await nats.connect(
                url, user=name, password=password, allow_reconnect=False, connect_timeout=2
            )
        except (OSError, nats.errors.Error):
            if asyncio.get_running_loop().time() > deadline:
                return False
            await asyncio.sleep(0.1)
            continue
        await nc.close()
        return True


async def add(
    settings: Settings, name: str, webhook: str | None, output: Path | None, public_url: str | None
) -> Said:
    integrator, password = integrators.add(settings.integrators_path, name, webhook_url=webhook)
    url = public_url or nats_url(settings) or "nats://<your NATS server>:4222"
    output = output or Path(f"{name}-credentials.json")
    integrators.write_credentials(output, integrators.credentials(integrator, password, url))
    said, reloaded = refresh_accounts(settings, added=True)
    lines = [
        f"{name}: credentials in {output} (mode 0600; the password is not kept, only its "
        "hash) / identifiants dans ce fichier",
        said,
    ]
    admin = await _admin(settings)
    if admin is not None:
        try:
            await integrators.ensure_consumer(admin.jetstream(), name)
            lines.append(f"consumer {PUBLIC_STREAM}/{name} ready (API prefix {API_PREFIX})")
        except nats.errors.Error:
            lines.append("the reporting service creates its consumer when it next looks")
        finally:
            await admin.close()
    local = nats_url(settings)
    if reloaded and local is not None:
        if await _can_log_in(local, name, password):
            lines.append(f"{name} can log in to {local}")
        else:
            return Said([*lines, f"{name} cannot log in to {local} yet"], 1)
    if integrator.webhook is not None:
        lines.append(f"webhook {integrator.webhook.url}: secret in the credentials file")
    return Said(lines)


async def revoke(settings: Settings, name: str) -> Said:
    integrators.revoke(settings.integrators_path, name)
    lines = [f"{name}: revoked / révoqué", refresh_accounts(settings)[0]]
    admin = await _admin(settings)
    if admin is not None:
        from services.reporting.app.public_feed import retire_feed

        try:
            await retire_feed(admin.jetstream(), name)
            lines.append(f"consumer {PUBLIC_STREAM}/{name} and its feed's consumers removed")
        finally:
            await admin.close()
    return Said(lines)


def listing(settings: Settings) -> list[Integrator]:
    return sorted(
        integrators.load(settings.integrators_path).integrators.values(), key=lambda i: i.name
    )


async def deliveries(settings: Settings, name: str) -> dict[str, object]:
    from services.reporting.read.webhooks import summary
    from shared.db import make_engine

    found = _known(settings, name)
    engine = make_engine(_database(settings), pool_size=1)
    try:
        result = (await summary(engine, name)).as_json()
    finally:
        await engine.dispose()
    return {"integrator": name, "webhook": found.webhook.url if found.webhook else None, **result}


async def redeliver(
    settings: Settings, name: str, from_position: int | None, failed_only: bool
) -> Said:
    from services.reporting.app.webhooks import redeliver as reset_deliveries
    from shared.db import make_engine

    found = integrators.load(settings.integrators_path).integrators.get(name)
    if found is None or not found.active:
        raise IntegratorError(f"no active integrator {name} / aucun intégrateur actif {name}")
    lines = []
    if found.webhook is not None:
        engine = make_engine(_database(settings), pool_size=1)
        try:
            count = await reset_deliveries(
                engine, name, from_position=from_position, failed_only=failed_only
            )
        finally:
            await engine.dispose()
        lines.append(f"{count} webhook deliveries due again now")
    if from_position is not None:
        admin = await _admin(settings)
        if admin is None:
            lines.append("NATS unreachable: the consumer was not moved")
            return Said(lines, 1)
        try:
            await integrators.reposition_consumer(admin.jetstream(), name, from_position)
        finally:
            await admin.close()
        lines.append(f"consumer {PUBLIC_STREAM}/{name} delivers again from {from_position}")
    return Said(lines)


def _known(settings: Settings, name: str) -> Integrator:
    found = integrators.load(settings.integrators_path).integrators.get(name)
    if found is None:
        raise IntegratorError(f"no integrator {name} / aucun intégrateur {name}")
    return found


def _database(settings: Settings) -> str:
    url = database_url(settings)
    if url is None:
        raise IntegratorError(
            "Set DATABASE_URL to reporting's PostgreSQL server, or run relais up / indiquez "
            "dans DATABASE_URL le serveur PostgreSQL du service reporting"
        )
    return url
