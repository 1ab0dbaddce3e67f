"""``relais integrators``: the commands (what they do is in :mod:`relais.integrators`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from shared.config import Settings

DataDir = Annotated[
    Path,
    typer.Option(
        "--data-dir",
        envvar="RELAIS_DATA_DIR",
        help="Where embedded servers, keys and logs live.",
    ),
]


app = typer.Typer(
    help="Integrators: their NATS access to the public feed and their webhooks.",
    no_args_is_help=True,
)


def _integrator_settings(data_dir: Path) -> Settings:
    from shared.config import Settings

    return Settings(data_dir=data_dir)


def _said(run: Callable[[], Any]) -> None:
    """Run a command, print what it says, exit with its status; a refused change is a
    message and status 2, never a traceback."""
    from shared.integrators import IntegratorError

    try:
        said = run()
    except IntegratorError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    for line in said.lines:
        typer.echo(line)
    raise typer.Exit(said.code)


@app.command("add")
def integrators_add(
    name: Annotated[str, typer.Argument(help="2-32 lower-case letters, digits, _")],
    webhook: Annotated[
        str | None,
        typer.Option(help="HTTPS endpoint for Standard Webhooks deliveries (http: loopback)"),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            help="Where to write the credentials to hand over; default NAME-credentials.json"
        ),
    ] = None,
    nats_url: Annotated[
        str | None,
        typer.Option("--nats-url", help="The NATS URL the integrator will use (in the file)"),
    ] = None,
    data_dir: DataDir = Path(".relais"),
) -> None:
    """Create an integrator: a NATS login to its own copy of the public feed, its pseudonym
    key, its webhook; write the credentials file to hand over."""
    import asyncio

    from relais import integrators

    settings = _integrator_settings(data_dir)
    _said(lambda: asyncio.run(integrators.add(settings, name, webhook, output, nats_url)))


@app.command("list")
def integrators_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
    data_dir: DataDir = Path(".relais"),
) -> None:
    """Every integrator, active or revoked."""
    import json

    from rich.console import Console
    from rich.table import Table

    from relais import integrators

    found = integrators.listing(_integrator_settings(data_dir))
    rows = [
        {
            "name": i.name,
            "created_at": i.created_at.isoformat(),
            "revoked_at": i.revoked_at.isoformat() if i.revoked_at else None,
            "subjects": i.subjects,
            "webhook": i.webhook.url if i.webhook else None,
        }
        for i in found
    ]
    if as_json:
        typer.echo(json.dumps(rows))
        return
    table = Table(title="integrators / intégrateurs")
    for column in ("name", "created_at", "revoked_at", "subjects", "webhook"):
        table.add_column(column)
    for row in rows:
        table.add_row(*(str(row[c] or "") for c in row))
    Console().print(table)


@app.command("revoke")
def integrators_revoke(
    name: Annotated[str, typer.Argument()],
    data_dir: DataDir = Path(".relais"),
) -> None:
    """Revoke an integrator: its login stops working at once (the server reloads), its feed
    and webhook stop; its name is never given again."""
    import asyncio

    from relais import integrators

    settings = _integrator_settings(data_dir)
    _said(lambda: asyncio.run(integrators.revoke(settings, name)))


@app.command("deliveries")
def integrators_deliveries(
    name: Annotated[str, typer.Argument()],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
    data_dir: DataDir = Path(".relais"),
) -> None:
    """An integrator's webhook deliveries: how many delivered, pending, failed, and each
    failing or failed one (position, type, attempts, last error). Exit 1 if any failed.
    Uses DATABASE_URL, or the embedded PostgreSQL of relais up."""
    import asyncio
    import json

    from relais import integrators
    from shared.integrators import IntegratorError

    try:
        report = asyncio.run(integrators.deliveries(_integrator_settings(data_dir), name))
    except IntegratorError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(json.dumps(report))
    else:
        _print_deliveries(report)
    counts = report["counts"]
    raise typer.Exit(1 if isinstance(counts, dict) and counts.get("failed") else 0)


def _print_deliveries(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(
        f"{report['integrator']}: webhook {report['webhook'] or '(none)'}; copied up to "
        f"position {report['copied_up_to']}; "
        + ", ".join(f"{k} {v}" for k, v in sorted(report["counts"].items()))
    )
    if report["troubled"]:
        table = Table(title="failing or failed / en échec")
        for column in ("position", "type", "status", "attempts", "last_error", "next_attempt_at"):
            table.add_column(column)
        for d in report["troubled"]:
            table.add_row(
                *(
                    str(d[c] if d[c] is not None else "")
                    for c in (
                        "position",
                        "type",
                        "status",
                        "attempts",
                        "last_error",
                        "next_attempt_at",
                    )
                )
            )
        console.print(table)


@app.command("redeliver")
def integrators_redeliver(
    name: Annotated[str, typer.Argument()],
    from_position: Annotated[
        int | None,
        typer.Option(
            "--from",
            min=1,
            help="Deliver again every event from this position of PUBLIC (1: the beginning), "
            "by webhook and on the integrator's NATS consumer",
        ),
    ] = None,
    failed: Annotated[
        bool, typer.Option("--failed", help="Deliver again the webhook deliveries given up")
    ] = False,
    data_dir: DataDir = Path(".relais"),
) -> None:
    """Deliver an integrator's events again, from a position or only those that failed."""
    import asyncio

    from relais import integrators

    if from_position is None and not failed:
        typer.echo("give --from POSITION or --failed / indiquez --from ou --failed", err=True)
        raise typer.Exit(2)
    settings = _integrator_settings(data_dir)
    _said(lambda: asyncio.run(integrators.redeliver(settings, name, from_position, failed)))
