"""``relais audit``: verify the log, its keys, export it, and a case's whole history."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from relais.cli_common import DataDir, Replicas, Site, nats_login

app = typer.Typer(help="Replay and verify the log.", no_args_is_help=True)


@app.command("verify")
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

    user, password = nats_login(user, password, data_dir)
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


@app.command("keys")
def audit_keys(
    nats_url: Annotated[str, typer.Option(envvar="NATS_URL")] = "nats://127.0.0.1:14222",
    user: Annotated[str, typer.Option(envvar="RELAIS_NATS_USER")] = "",
    password: Annotated[str, typer.Option(envvar="RELAIS_NATS_PASSWORD")] = "",
    data_dir: DataDir = Path(".relais"),
) -> None:
    """Print every signing key published on AUDIT (key id, public key, instance, when), as
    JSON. Check each with its site's operator, keep the file, and verify with --pinned-keys."""
    from relais.audit import run_keys

    user, password = nats_login(user, password, data_dir)
    raise typer.Exit(run_keys(nats_url, user=user, password=password))


@app.command("export")
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

    user, password = nats_login(user, password, data_dir)
    streams = stream or [stream_name(c) for c in CONTEXTS]
    raise typer.Exit(run_export(nats_url, streams, output, user=user, password=password))


@app.command("case")
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
    user, password = nats_login(user, password, data_dir)
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
