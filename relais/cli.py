"""The ``relais`` command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from relais.integrators_cli import app as integrators_app

app = typer.Typer(
    help="Relais: child protection case management on a signed event log.",
    no_args_is_help=True,
    add_completion=False,
)
audit_app = typer.Typer(help="Replay and verify the log.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
app.add_typer(integrators_app, name="integrators")
user_app = typer.Typer(help="Portal accounts.", no_args_is_help=True)
app.add_typer(user_app, name="user")
streams_app = typer.Typer(
    help="The operator's streams: create them, check their guarantees.", no_args_is_help=True
)
app.add_typer(streams_app, name="streams")

DataDir = Annotated[
    Path,
    typer.Option(
        "--data-dir",
        envvar="RELAIS_DATA_DIR",
        help="Where embedded servers, keys and logs live.",
    ),
]
# The bench never touches real data, whatever RELAIS_DATA_DIR says.
BenchDir = Annotated[
    Path, typer.Option("--data-dir", help="Where the bench's own servers keep their data.")
]


@app.command()
def up(data_dir: DataDir = Path(".relais")) -> None:
    """Start NATS, PostgreSQL (embedded unless NATS_URL / DATABASE_URL are set) and every
    service; stop them all on Ctrl-C."""
    from relais.up import run_up

    raise typer.Exit(run_up(data_dir))


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
    data_dir: BenchDir = Path(".relais-bench"),
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
            data_dir=data_dir,
            json_output=json_output,
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
        raise typer.Exit(1) from None
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
    login = _nats_login(settings.nats_user, settings.nats_password, data_dir)
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


@app.command("nats-accounts")
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
Site = Annotated[str, typer.Option(envvar="RELAIS_SITE", help="This site's id.")]
Replicas = Annotated[int, typer.Option(envvar="RELAIS_NATS_REPLICAS", min=1, max=5)]


@streams_app.command("apply")
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

    user, password = _nats_login(user, password, data_dir)
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


@streams_app.command("check")
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

    user, password = _nats_login(user, password, data_dir)
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


@audit_app.command("verify")
def audit_verify(
    nats_url: Annotated[str, typer.Option(envvar="NATS_URL")] = "nats://127.0.0.1:14222",
    user: Annotated[str, typer.Option(envvar="RELAIS_NATS_USER")] = "",
    password: Annotated[str, typer.Option(envvar="RELAIS_NATS_PASSWORD")] = "",
    data_dir: DataDir = Path(".relais"),
    json_output: Annotated[bool, typer.Option("--json")] = False,
    pinned_keys: Annotated[
        Path | None,
        typer.Option(
            "--pinned-keys",
            envvar="RELAIS_PINNED_KEYS",
            help="Trust only these signing keys (a file from 'relais audit keys', checked out "
            "of band); any other key published on AUDIT is a failure.",
        ),
    ] = None,
    anchors: Annotated[
        list[Path] | None,
        typer.Option(
            "--anchors",
            help="Heads kept from an earlier run (--save-heads); the log must still extend "
            "them. Repeat for several files.",
        ),
    ] = None,
    save_heads: Annotated[
        Path | None,
        typer.Option(
            "--save-heads",
            help="Write every stream's head (last sequence, running hash) to this file, for "
            "the auditor to keep outside the log.",
        ),
    ] = None,
    site: Site = "hq",
    replicas: Replicas = 1,
) -> None:
    """Walk every stream: its guarantees (configuration, head at sequence 1), hash chains,
    signatures, sequence gaps, and the anchored heads (checkpoints on AUDIT, --anchors).
    Exit 1 on any failure, 2 if the pinned-keys or anchors file cannot be read."""
    from relais.audit import run_verify

    user, password = _nats_login(user, password, data_dir)
    raise typer.Exit(
        run_verify(
            nats_url,
            json_output=json_output,
            user=user,
            password=password,
            pinned=pinned_keys,
            site=site,
            replicas=replicas,
            anchors=anchors,
            save=save_heads,
        )
    )


@audit_app.command("keys")
def audit_keys(
    nats_url: Annotated[str, typer.Option(envvar="NATS_URL")] = "nats://127.0.0.1:14222",
    user: Annotated[str, typer.Option(envvar="RELAIS_NATS_USER")] = "",
    password: Annotated[str, typer.Option(envvar="RELAIS_NATS_PASSWORD")] = "",
    data_dir: DataDir = Path(".relais"),
) -> None:
    """Print every signing key published on AUDIT (key id, public key, instance, when), as
    JSON. Check each with its site's operator, keep the file, and verify with --pinned-keys."""
    from relais.audit import run_keys

    user, password = _nats_login(user, password, data_dir)
    raise typer.Exit(run_keys(nats_url, user=user, password=password))


@audit_app.command("export")
def audit_export(
    output: Annotated[Path, typer.Option("--output", "-o", help="The JSON Lines file to write.")],
    stream: Annotated[
        list[str] | None,
        typer.Option("--stream", help="A stream to export; repeat for several (default: all)."),
    ] = None,
    nats_url: Annotated[str, typer.Option(envvar="NATS_URL")] = "nats://127.0.0.1:14222",
    user: Annotated[str, typer.Option(envvar="RELAIS_NATS_USER")] = "",
    password: Annotated[str, typer.Option(envvar="RELAIS_NATS_PASSWORD")] = "",
    data_dir: DataDir = Path(".relais"),
) -> None:
    """Write the stored bytes of every event (stream, sequence, subject, bytes in base64),
    one JSON line each, for checking with other tools (docs/auditing.md). Exit 1 if a stream
    does not exist."""
    from relais.audit import run_export
    from shared.streams import CONTEXTS, stream_name

    user, password = _nats_login(user, password, data_dir)
    streams = stream or [stream_name(c) for c in CONTEXTS]
    raise typer.Exit(run_export(nats_url, streams, output, user=user, password=password))


@audit_app.command("case")
def audit_case(
    case_id: Annotated[str, typer.Argument(help="The case's id.")],
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="RFC 3339 instant: the history and state at that moment."),
    ] = None,
    nats_url: Annotated[str, typer.Option(envvar="NATS_URL")] = "nats://127.0.0.1:14222",
    user: Annotated[str, typer.Option(envvar="RELAIS_NATS_USER")] = "",
    password: Annotated[str, typer.Option(envvar="RELAIS_NATS_PASSWORD")] = "",
    data_dir: DataDir = Path(".relais"),
    json_output: Annotated[bool, typer.Option("--json")] = False,
    reader: Annotated[
        str,
        typer.Option(
            "--reader",
            envvar="RELAIS_USER",
            help="Who is reading (recorded on AUDIT); default: the system user.",
        ),
    ] = "",
    agency: Annotated[
        str,
        typer.Option("--agency", envvar="RELAIS_AGENCY", help="The reader's agency."),
    ] = "unspecified",
    site: Annotated[str, typer.Option("--site", envvar="RELAIS_SITE")] = "hq",
) -> None:
    """History of a case and its children across intake, referral and casework.

    Read from the log itself: no service needs to run. The read is recorded on AUDIT (who,
    which case and children) before anything is shown, as the API records it. Exit 1 if no
    event names the case."""
    import getpass

    from relais.audit import Reader, run_case
    from shared.audit_history import parse_instant

    moment = None
    if as_of is not None:
        try:
            moment = parse_instant(as_of)
        except ValueError as exc:
            reason = getattr(exc, "message", None)
            text = f"{reason.en} / {reason.fr}" if reason else str(exc)
            typer.echo(f"--as-of {as_of!r}: {text}", err=True)
            raise typer.Exit(2) from None
    user, password = _nats_login(user, password, data_dir)
    if not reader:
        try:
            reader = getpass.getuser()
        except (OSError, KeyError):  # no login name to be found: say so rather than guess
            reader = "unknown"
    who = Reader(user=reader, agency=agency, site=site, keys_dir=data_dir / "keys")
    raise typer.Exit(
        run_case(
            nats_url,
            case_id,
            moment,
            json_output=json_output,
            user=user,
            password=password,
            reader=who,
        )
    )


def _nats_login(user: str, password: str, data_dir: Path) -> tuple[str, str]:
    """The given NATS login, or the embedded server's operator account if there is one."""
    import json

    from shared.nats_accounts import ADMIN

    users_file = data_dir / "nats" / "users.json"
    if not user and users_file.exists():
        user, password = ADMIN, json.loads(users_file.read_text())[ADMIN]
    return user, password


if __name__ == "__main__":
    app()
