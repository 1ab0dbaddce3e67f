"""The operator's NATS side: ``relais streams apply|check`` and ``relais nats-accounts``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from relais.cli_common import DataDir, Replicas, Site, nats_login

app = typer.Typer(
    help="The operator's streams: create them, check their guarantees.", no_args_is_help=True
)


@app.command("apply")
def streams_apply(
    nats_url: NatsUrl = "nats://127.0.0.1:14222",
    user: OperatorUser = "",
    password: OperatorPassword = "",
    site: Site = "hq",
    replicas: Replicas = 1,
    data_dir: DataDir = Path(".relais"),
) -> None:
    """Create the streams (INTAKE, REFERRAL, CASEWORK, AUDIT, PUBLIC) or restore their
    guarantees, with the operator's credentials; services only check them. Exit 1 if one
    cannot be made safe in place (sealed, in memory, or its head removed)."""
    from relais.streams import run_apply

    user, password = nats_login(user, password, data_dir)
    raise typer.Exit(
        run_apply(
            nats_url,
            site=site,
            user=user,
            password=password,
            replicas=replicas,
            public_retention_s=_public_retention_s(),
        )
    )


@app.command("check")
def streams_check(
    nats_url: NatsUrl = "nats://127.0.0.1:14222",
    user: OperatorUser = "",
    password: OperatorPassword = "",
    site: Site = "hq",
    replicas: Replicas = 1,
    data_dir: DataDir = Path(".relais"),
) -> None:
    """Say whether every stream keeps its guarantees (read only). Exit 1 if not."""
    from relais.streams import run_check

    user, password = nats_login(user, password, data_dir)
    raise typer.Exit(
        run_check(
            nats_url,
            site=site,
            user=user,
            password=password,
            replicas=replicas,
            public_retention_s=_public_retention_s(),
        )
    )


def _public_retention_s() -> float:
    from shared.config import Settings

    return Settings().public_retention_days * 86_400.0


def nats_accounts(
    site: Annotated[str, typer.Option(help="The site these servers serve, e.g. hq.")] = "hq",
    passwords_file: Annotated[
        Path | None,
        typer.Option(
            help="JSON of user -> password; default <data dir>/nats/users.json, the file relais "
            "up uses. Created (0600) if missing; a password in it is never replaced."
        ),
    ] = None,
    output: Annotated[
        Path | None, typer.Option(help="Write to this file (0600), not stdout.")
    ] = None,
    data_dir: DataDir = Path(".relais"),
) -> None:
    """Print the accounts block (per-service users, each allowed only its own consumers; one
    account per integrator of relais integrators) to include in a nats-server configuration
    of deploy/. Regenerate it when a service gains a projection or an integrator is added or
    revoked."""
    from relais.consumers import service_consumers
    from relais.embedded import write_private
    from shared import integrators
    from shared.config import Settings
    from shared.nats_accounts import accounts_config, load_or_create_passwords

    settings = Settings(data_dir=data_dir)
    registry = integrators.load(settings.integrators_path)
    registered, everyone = registry.active(), list(registry.integrators.values())
    text = accounts_config(
        site,
        load_or_create_passwords(passwords_file or settings.nats_users_path),
        service_consumers(everyone),
        registered,
    )
    if output is None:
        typer.echo(text)
    else:
        write_private(output, text)


NatsUrl = Annotated[str, typer.Option(envvar="NATS_URL")]
OperatorUser = Annotated[
    str,
    typer.Option(
        envvar="RELAIS_OPERATOR_NATS_USER",
        help="The operator's NATS user (default: the embedded server's relais_admin).",
    ),
]
OperatorPassword = Annotated[str, typer.Option(envvar="RELAIS_OPERATOR_NATS_PASSWORD")]
