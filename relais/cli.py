"""The ``relais`` command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from relais.cli_audit import app as audit_app
from relais.cli_common import DataDir, nats_login
from relais.cli_errors import LOG_DOWN, GuardedGroup
from relais.cli_streams import app as streams_app
from relais.cli_streams import nats_accounts
from relais.integrators_cli import app as integrators_app
from relais.sites_cli import HubCredentialsOption, HubOption, SiteOption, sites_app

app = typer.Typer(
    help="Relais: child protection case management on a signed event log.",
    no_args_is_help=True,
    add_completion=False,
    # Every command answers a mistake with one line and an exit code (relais/cli_errors.py).
    cls=GuardedGroup,
)
app.add_typer(audit_app, name="audit")
app.add_typer(integrators_app, name="integrators")
user_app = typer.Typer(help="Portal accounts.", no_args_is_help=True)
app.add_typer(user_app, name="user")
app.add_typer(streams_app, name="streams")
app.add_typer(sites_app, name="sites")
app.command("nats-accounts")(nats_accounts)

# The bench never touches real data, whatever RELAIS_DATA_DIR says.
BenchDir = Annotated[
    Path, typer.Option("--data-dir", help="Where the bench's own servers keep their data.")
]


@app.command()
def up(
    data_dir: DataDir = Path(".relais"),
    site: SiteOption = None,
    hub: HubOption = None,
    hub_credentials: HubCredentialsOption = None,
) -> None:
    """Start NATS, PostgreSQL (embedded unless NATS_URL / DATABASE_URL are set) and every
    service; stop them all on Ctrl-C. With --hub: a regional office, linked to the hub."""
    from relais.up import run_up

    raise typer.Exit(run_up(data_dir, site=site, hub=hub, hub_credentials=hub_credentials))


@app.command()
def bench(
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    events: Annotated[int, typer.Option("--events", min=100)] = 100_000,
    scenario: Annotated[
        str,
        typer.Option(
            "--scenario",
            help="backbone: append and replay beside the raw limits; matching: the duplicate "
            "matcher's precision and recall, learning, and cost at --children records; "
            "intake-http: report registrations at --rate a second for --duration seconds "
            "through relais up.",
        ),
    ] = "backbone",
    children: Annotated[
        int, typer.Option("--children", min=1000, help="Registry size (matching).")
    ] = 100_000,
    rate: Annotated[
        float, typer.Option("--rate", min=0.1, help="Registrations a second (intake-http).")
    ] = 20.0,
    duration: Annotated[
        float, typer.Option("--duration", min=0.1, help="Seconds of sending (intake-http).")
    ] = 10.0,
    senders: Annotated[
        int,
        typer.Option(
            "--senders",
            min=1,
            max=16,
            help="Processes sending the registrations (intake-http): one Python sender "
            "saturates near 100 a second and would measure itself.",
        ),
    ] = 2,
    intake_instances: Annotated[
        int,
        typer.Option(
            "--intake-instances",
            min=1,
            max=16,
            help="Intake processes sharing its port (intake-http), as "
            "RELAIS_INTAKE_INSTANCES sets for relais up.",
        ),
    ] = 1,
    data_dir: BenchDir = Path(".relais-bench"),
    cluster: Annotated[
        bool,
        typer.Option(
            "--cluster",
            help="backbone: also on three nats-servers as one cluster, streams of three copies.",
        ),
    ] = False,
) -> None:
    """Measure one scenario on servers of its own; figures are written to bench/results."""
    from relais.bench import SCENARIOS, run_bench

    if scenario not in SCENARIOS:
        typer.echo(f"unknown scenario: {scenario}; known: {', '.join(SCENARIOS)}", err=True)
        raise typer.Exit(2)
    raise typer.Exit(
        run_bench(
            scenario=scenario,
            events=events,
            children=children,
            rate=rate,
            duration_s=duration,
            senders=senders,
            intake_instances=intake_instances,
            data_dir=data_dir,
            json_output=json_output,
            cluster=cluster,
        )
    )


@app.command()
def token(
    user: Annotated[str, typer.Option(help="User id (the token's subject).")],
    agency: Annotated[str, typer.Option(help="Agency id.")],
    role: Annotated[list[str], typer.Option(help="Role; repeat for several.")],
    unit: Annotated[str | None, typer.Option(help="Unit id within the agency.")] = None,
    hours: Annotated[float, typer.Option(min=0.01, max=24 * 30)] = 8.0,
    data_dir: DataDir = Path(".relais"),
) -> None:
    """Mint an access token signed by the embedded default's local key."""
    from shared.auth import LocalIssuer, Role

    unknown = [r for r in role if r not in Role.__members__]
    if unknown:
        typer.echo(
            f"unknown role(s) / rôle(s) inconnu(s): {', '.join(unknown)}; "
            f"known / connus: {', '.join(Role.__members__)}",
            err=True,
        )
        raise typer.Exit(2)
    issuer = LocalIssuer.load(data_dir / "keys")
    typer.echo(
        issuer.mint(user=user, agency=agency, roles=role, unit=unit, ttl_s=int(hours * 3600))
    )


@user_app.command("add")
def user_add(
    agency: Annotated[str, typer.Option(help="The agency the account belongs to.")],
    role: Annotated[list[str], typer.Option(help="Role; repeat for several.")],
    email: Annotated[str, typer.Option(help="The person's email address (their sign-in).")],
    unit: Annotated[str | None, typer.Option(help="Unit within the agency.")] = None,
    name: Annotated[str | None, typer.Option(help="The person's name, as others see it.")] = None,
    data_dir: DataDir = Path(".relais"),
) -> None:
    """Create a portal account (e.g. an agency's first administrator) and print its one-time
    set-up link. Relais must be running (relais up), or NATS_URL set."""
    import asyncio

    import nats

    from relais.users import NewUser, add_user
    from shared.auth import Role
    from shared.config import Settings
    from shared.domain import DomainError

    unknown = [r for r in role if r not in Role.__members__]
    if unknown:
        typer.echo(
            f"unknown role(s) / rôle(s) inconnu(s): {', '.join(unknown)}; "
            f"known / connus: {', '.join(Role.__members__)}",
            err=True,
        )
        raise typer.Exit(2)
    new = NewUser(email=email, agency=agency, roles=role, unit=unit, name=name)
    try:
        issued = asyncio.run(add_user(new, Settings(), data_dir))
    except DomainError as exc:
        typer.echo(f"{exc.message.en} / {exc.message.fr}", err=True)
        raise typer.Exit(1) from None
    except (OSError, TimeoutError, nats.errors.Error) as exc:
        typer.echo(
            f"cannot reach NATS ({type(exc).__name__}): start Relais first (relais up) / "
            "démarrez d'abord Relais (relais up)",
            err=True,
        )
        raise typer.Exit(LOG_DOWN) from None
    until = issued.expires_at.strftime("%Y-%m-%d %H:%M UTC")
    typer.echo(f"Account created / compte créé: {email} ({agency}: {', '.join(role)})")
    typer.echo(f"Set-up link, works once until {until} / lien de création, valable une fois:")
    typer.echo(issued.link)


@app.command("rebuild")
def rebuild_command(
    service: Annotated[str, typer.Argument(help="intake, referral, casework, reporting or portal")],
    data_dir: DataDir = Path(".relais"),
) -> None:
    """Rebuild a service's read models from the log while it runs: the new ones are built
    beside the live ones, then switched to at once (progress shown). If the service is not
    running, the command rebuilds them itself. The portal's accounts are a read model; its
    passwords and sessions are not, and stay. Uses DATABASE_URL, or the embedded default's
    servers while relais up runs in --data-dir."""
    import asyncio

    from rich.console import Console

    from relais.rebuild import NoDatabase, rebuild
    from shared.config import PROCESSES, Settings

    if service not in PROCESSES:
        typer.echo(f"unknown service / service inconnu: {service}", err=True)
        raise typer.Exit(2)
    settings = Settings(data_dir=data_dir)
    login = nats_login(settings.nats_user, settings.nats_password, data_dir)
    try:
        code = asyncio.run(
            rebuild(service, settings, Console(stderr=True), data_dir=data_dir, nats_login=login)
        )
    except NoDatabase as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    raise typer.Exit(code)


@app.command("dead-letters")
def dead_letters_command(
    service: Annotated[str, typer.Argument(help="intake, referral, casework, reporting or portal")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="At most this many")] = 100,
) -> None:
    """List the events a service's projections could not apply: where each is in the log,
    its subject, the reason. Uses DATABASE_URL. Exit status 1 when there is any."""
    import asyncio
    import json

    from rich.console import Console
    from rich.table import Table

    from relais.dead_letters import list_dead_letters
    from shared.config import PROCESSES, Settings

    if service not in PROCESSES:
        typer.echo(f"unknown service / service inconnu: {service}", err=True)
        raise typer.Exit(2)
    try:
        url = Settings().database_url_for(service)
    except RuntimeError:
        typer.echo(
            "Set DATABASE_URL to the PostgreSQL server of the service / "
            "indiquez dans DATABASE_URL le serveur PostgreSQL du service",
            err=True,
        )
        raise typer.Exit(2) from None
    total, letters = asyncio.run(list_dead_letters(url, limit=limit))
    if as_json:
        typer.echo(json.dumps({"total": total, "items": [d.as_json() for d in letters]}))
    elif not total:
        typer.echo(f"{service}: no dead letters / aucune lettre morte")
    else:
        table = Table(title=f"{service}: {total} dead letter(s) / lettre(s) morte(s)")
        for column in ("projector", "stream", "seq", "subject", "reason", "recorded at"):
            table.add_column(column)
        for d in letters:
            table.add_row(
                d.projector, d.stream, str(d.seq), d.subject, d.reason, d.recorded_at.isoformat()
            )
        Console().print(table)
    raise typer.Exit(1 if total else 0)


reporting_app = typer.Typer(help="The reporting service's tools.", no_args_is_help=True)
app.add_typer(reporting_app, name="reporting")


@reporting_app.command("rebuild")
def reporting_rebuild(data_dir: DataDir = Path(".relais")) -> None:
    """Rebuild the reporting service's projections from the log (same as relais rebuild
    reporting)."""
    rebuild_command("reporting", data_dir)


@app.command()
def permissions() -> None:
    """Print every service's permission table (Markdown), as the README shows them."""
    from relais.rebuild import load_spec
    from shared.access import Permissions
    from shared.config import SERVICES

    for service in SERVICES:
        tables = {
            id(p): p
            for router in load_spec(service).routers
            for route in router.routes
            for dep in getattr(getattr(route, "dependant", None), "dependencies", [])
            if isinstance(p := getattr(dep.call, "relais_permissions", None), Permissions)
        }
        for table in tables.values():
            typer.echo(f"### {service}\n\n{table.markdown()}\n")


@app.command()
def asyncapi(
    output: Annotated[Path | None, typer.Option(help="Write to this file, not stdout.")] = None,
) -> None:
    """Print the AsyncAPI 3.0 document of every event type, for integrators."""
    import json

    import contracts
    import shared.audit_events  # noqa: F401 - registers the AUDIT stream's events
    from shared.asyncapi import build_asyncapi

    contracts.load_all()
    text = json.dumps(build_asyncapi(), indent=2, ensure_ascii=False)
    if output is None:
        typer.echo(text)
    else:
        output.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    app()
