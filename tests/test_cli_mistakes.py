"""Every ``relais`` command run wrong answers with one line in English and French and an exit
code from the documented table (README, "Exit codes"), never a traceback. Generated from the
command tree, so a new command is covered without editing this test: each is run with a flag
it does not have, and against a stopped instance (nothing listens at NATS_URL, no
DATABASE_URL, an empty data folder); then a few mistakes by name (an unreadable file, a
missing database URL, a database that does not answer)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from typer._click.core import Context
from typer.testing import CliRunner

from relais.cli import app
from relais.cli_errors import EXIT_CODES
from relais.embedded import free_port

pytestmark = pytest.mark.app

# Commands that start servers of their own rather than reach the instance's.
STARTS_SERVERS = {"up", "bench"}
# A value for each required argument or option, by name.
VALUES = {
    "user": "someone",
    "agency": "agency-a",
    "role": "case_worker",
    "service": "intake",
    "case_id": "c-1",
    "name": "integrator-x",
    "email": "someone@example.org",
}


def commands() -> Iterator[tuple[list[str], Any]]:
    root = typer.main.get_command(app)
    ctx = Context(root)

    def walk(command: Any, path: list[str]) -> Iterator[tuple[list[str], Any]]:
        if hasattr(command, "list_commands"):
            for name in command.list_commands(ctx):
                yield from walk(command.get_command(ctx, name), [*path, name])
        else:
            yield path, command

    yield from walk(root, [])


COMMANDS = list(commands())


def required_args(command: Any, tmp_path: Path) -> list[str]:
    args: list[str] = []
    for param in command.params:
        if not param.required:
            continue
        value = VALUES.get(param.name, str(tmp_path / "missing-folder" / f"{param.name}.out"))
        if param.param_type_name == "argument":
            args.append(value)
        else:
            args.extend([param.opts[0], value])
    return args


def run(args: list[str], tmp_path: Path, **env: str | None) -> Any:
    runner = CliRunner()
    base: dict[str, str | None] = {
        "NATS_URL": f"nats://127.0.0.1:{free_port()}",
        "DATABASE_URL": None,
        "RELAIS_DATA_DIR": str(tmp_path / "data"),
        "RELAIS_DEBUG": None,
        "RELAIS_NATS_USER": None,
        "RELAIS_NATS_PASSWORD": None,
    }
    work = tmp_path / "cwd"
    work.mkdir(exist_ok=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(work)  # commands that write beside them write here
        return runner.invoke(app, args, env={**base, **env}, catch_exceptions=False)


def said_plainly(result: Any, what: str) -> None:
    assert "Traceback" not in result.output, f"{what}:\n{result.output}"
    assert result.exit_code in EXIT_CODES, f"{what}: exit {result.exit_code}\n{result.output}"


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_a_flag_it_does_not_have(path: list[str], command: Any, tmp_path: Path) -> None:
    result = run([*path, "--no-such-flag"], tmp_path)
    said_plainly(result, " ".join(path))
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert "wrong usage" in lines[0] and "utilisation incorrecte" in lines[0]


@pytest.mark.parametrize(
    ("path", "command"),
    [(p, c) for p, c in COMMANDS if p[0] not in STARTS_SERVERS],
    ids=[" ".join(p) for p, _ in COMMANDS if p[0] not in STARTS_SERVERS],
)
def test_against_a_stopped_instance(path: list[str], command: Any, tmp_path: Path) -> None:
    result = run([*path, *required_args(command, tmp_path)], tmp_path)
    said_plainly(result, " ".join(path))
    if result.exit_code not in (0, 1):
        assert " / " in result.output, f"{path}: not in both languages:\n{result.output}"


def test_a_stopped_instance_is_named(tmp_path: Path) -> None:
    result = run(["audit", "verify"], tmp_path)
    assert result.exit_code == 3, result.output
    assert "NATS" in result.output and "injoignable" in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output


def test_an_unwritable_file_is_named(tmp_path: Path) -> None:
    target = tmp_path / "no" / "such" / "folder" / "schema.json"
    result = run(["asyncapi", "--output", str(target)], tmp_path)
    assert result.exit_code == 5, result.output
    assert str(target) in result.output and "n'existe pas" in result.output


def test_a_missing_database_url_is_named(tmp_path: Path) -> None:
    result = run(["rebuild", "intake", "--data-dir", str(tmp_path / "empty")], tmp_path)
    assert result.exit_code == 2, result.output
    assert "DATABASE_URL" in result.output and "défini" in result.output


def test_a_database_that_does_not_answer(tmp_path: Path) -> None:
    url = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/relais"
    result = run(["dead-letters", "intake"], tmp_path, DATABASE_URL=url)
    said_plainly(result, "dead-letters")
    assert result.exit_code == 4, result.output
    assert "PostgreSQL" in result.output
