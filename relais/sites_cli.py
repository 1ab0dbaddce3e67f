"""``relais sites``: regional offices, at the hub and at the office (see relais/sites.py)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer

from shared.config import Settings

sites_app = typer.Typer(
    help="Regional offices: their logins at the hub, their links, how far behind they are.",
    no_args_is_help=True,
)

DataDir = Annotated[
    Path,
    typer.Option(
        "--data-dir", envvar="RELAIS_DATA_DIR", help="Where embedded servers, keys and logs live."
    ),
]
SiteArg = Annotated[str, typer.Argument(help="The office's site id, e.g. parakou.")]
# Options of `relais up` for an office (registered in relais/cli.py).
SiteOption = Annotated[
    str | None,
    typer.Option("--site", envvar="RELAIS_SITE", help="This instance's site id, e.g. parakou."),
]
HubOption = Annotated[
    str | None,
    typer.Option(
        "--hub", help="The hub's leaf node port, nats-leaf://HOST:7422: run as a regional office."
    ),
]
HubCredentialsOption = Annotated[
    Path | None,
    typer.Option("--hub-credentials", help="The file `relais sites add SITE` wrote at the hub."),
]


def _settings(data_dir: Path) -> Settings:

    return Settings(data_dir=data_dir.expanduser().resolve())


def _operator(data_dir: Path) -> tuple[str, str, str]:
    """(NATS URL, user, password) of the operator: RELAIS_OPERATOR_NATS_USER / _PASSWORD on
    NATS_URL, or the embedded server's relais_admin of a relais up running here."""
    from relais.embedded import embedded_nats_url
    from shared.nats_accounts import ADMIN

    settings = _settings(data_dir)
    url = settings.nats_url or embedded_nats_url(settings.data_dir / "nats")
    if not url:
        typer.echo(
            "no NATS server here: set NATS_URL, or run this where relais up runs / aucun "
            "serveur NATS ici : indiquez NATS_URL, ou lancez ceci là où tourne relais up",
            err=True,
        )
        raise typer.Exit(2)
    if settings.operator_nats_user:
        return url, settings.operator_nats_user, settings.operator_nats_password
    users = settings.nats_users_path
    if not users.exists():
        return url, "", ""  # a server without accounts
    return url, ADMIN, str(json.loads(users.read_text())[ADMIN])


@sites_app.command("add")
def add(
    site: SiteArg,
    output: Annotated[
        Path, typer.Option(help="Write the office's credentials here (0600); give it to them.")
    ],
    share_token_key: Annotated[
        bool,
        typer.Option(
            "--share-token-key",
            help="Put the hub's local token-signing key in the file, so each site accepts the "
            "other's tokens (commands forwarded to their owner need it without an identity "
            "provider). Whoever holds the file can then sign tokens for the hub.",
        ),
    ] = False,
    data_dir: DataDir = Path(".relais"),
) -> None:
    """At the hub: give an office a login on the leaf node port, write its credentials file
    and link the hub's streams to the office's (all idempotent). A running relais up reloads
    its accounts at once."""
    from relais.embedded import NatsConfigError, write_private
    from relais.integrators import refresh_accounts
    from relais.site_setup import SiteError, add_site

    settings = _settings(data_dir)
    try:
        token_key = settings.keys_dir / "token-signing.pem" if share_token_key else None
        if token_key is not None and not token_key.exists():
            raise SiteError(
                f"no token key at {token_key}: start relais up once first / aucune clé de "
                "jeton ici : lancez relais up une première fois"
            )
        credentials = add_site(settings.nats_users_path, site, settings.site, token_key)
    except SiteError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    write_private(output, credentials.to_json() + "\n")
    typer.echo(f"credentials for {site} written to {output} / identifiants écrits")
    if not settings.nats_accounts_path.exists() and settings.nats_accounts_file is None:
        said = "NATS: relais up gives the office its login when it starts"
    else:
        said = ""
    try:
        if not said:
            said, _ = refresh_accounts(settings)
    except NatsConfigError as exc:
        typer.echo(f"NATS refused the new accounts: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(said)
    # The hub's streams: linked now if they can be, else by relais up at its next start.
    from relais.embedded import embedded_nats_url

    if settings.nats_url or embedded_nats_url(settings.data_dir / "nats"):
        _link(site, None, settings.data_dir, required=False)
    else:
        typer.echo("the hub's streams will copy the office's when relais up starts")


@sites_app.command("link")
def link(
    site: SiteArg,
    domain: Annotated[
        str | None,
        typer.Option(help="The JetStream domain that holds SITE's events (default: SITE)."),
    ] = None,
    data_dir: DataDir = Path(".relais"),
) -> None:
    """Make this site's streams source SITE's events (idempotent). At the hub: relais sites
    link parakou. At an office running the deploy/ files: relais sites link hq --domain hub."""
    _link(site, domain, _settings(data_dir).data_dir)


def _link(site: str, domain: str | None, data_dir: Path, *, required: bool = True) -> None:
    from relais.site_links import admin_connect, link_at_hub
    from relais.site_setup import SiteError, check_site

    settings = _settings(data_dir)
    try:
        check_site(site)
    except SiteError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    url, user, password = _operator(data_dir)

    async def run() -> list[str]:
        nc = await admin_connect(url, password, user=user)
        try:
            return await link_at_hub(nc.jetstream(timeout=5), settings.site, site, domain)
        finally:
            await nc.close()

    try:
        changed = asyncio.run(run())
    except Exception as exc:
        if not required:
            typer.echo(
                f"streams not linked yet ({type(exc).__name__}): relais up links them when it "
                f"starts, or run relais sites link {site}"
            )
            return
        typer.echo(f"cannot link {site}: {type(exc).__name__}: {exc}", err=True)
        raise typer.Exit(1) from None
    what = ", ".join(changed) if changed else "already linked / déjà lié"
    typer.echo(f"{settings.site} sources {site}: {what}")


@sites_app.command("status")
def status(
    data_dir: DataDir = Path(".relais"),
    json_output: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Per stream: this site's last sequence and, per site it sources, the last sequence
    copied, how many messages it is behind (lag) and when it was last heard of."""
    from dataclasses import asdict

    from relais.site_links import admin_connect
    from relais.site_status import StreamState, format_status, sites_status

    settings = _settings(data_dir)
    url, user, password = _operator(settings.data_dir)

    async def run() -> list[StreamState]:
        nc = await admin_connect(url, password, user=user)
        try:
            return await sites_status(nc)
        finally:
            await nc.close()

    try:
        states = asyncio.run(run())
    except Exception as exc:
        typer.echo(f"cannot read the streams: {type(exc).__name__}: {exc}", err=True)
        raise typer.Exit(1) from None
    if json_output:
        site = states[0].site if states else settings.site
        typer.echo(json.dumps({"site": site, "streams": [asdict(s) for s in states]}))
        return
    for line in format_status(states):
        typer.echo(line)
