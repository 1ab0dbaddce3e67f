"""``relais audit``: prove the log whole, and replay a case from it."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import nats
from nats.aio.client import Client as NATS
from nats.js.errors import NotFoundError
from rich.console import Console
from rich.table import Table

import contracts
from shared.anchors import AnchorsInvalid, Head, load_heads, save_heads
from shared.audit_events import RecordAccessed
from shared.audit_history import (
    CASE_STREAMS,
    CaseHistory,
    assemble_history,
    format_instant,
    index_envelope,
)
from shared.envelope import Actor, Aggregate
from shared.ids import new_id
from shared.keys import (
    PinsInvalid,
    keys_document,
    load_keyring,
    load_pins,
    publish_signing_key,
    published_keys,
)
from shared.nats_store import NatsEventStore
from shared.reading import iter_stored
from shared.recorded import PoisonEvent, parse_envelope
from shared.signing import SigningKey
from shared.streams import CONTEXTS, stream_name
from shared.verify import VerifyReport, verify


async def _connect(nats_url: str, user: str, password: str) -> NATS:
    return await nats.connect(
        # Several URLs separated by commas: the nodes of a cluster (deploy/nats/hq).
        [u.strip() for u in nats_url.split(",") if u.strip()],
        connect_timeout=5,
        max_reconnect_attempts=1,
        user=user or None,
        password=password or None,
    )


async def verify_log(
    nats_url: str,
    streams: list[str] | None = None,
    *,
    user: str = "",
    password: str = "",
    pinned: Path | None = None,
    site: str | None = "hq",
    replicas: int | None = 1,
    anchors: list[Head] | None = None,
) -> VerifyReport:
    """Without ``pinned``, every key published on AUDIT is trusted (a log checked against
    itself); with it, only the pinned keys are. ``site`` and ``replicas``: what each stream's
    configuration must say. ``anchors``: heads the auditor kept from an earlier run."""
    keyring = load_pins(pinned) if pinned else None
    nc = await _connect(nats_url, user, password)
    try:
        published = await published_keys(nc)
        return await verify(
            nc,
            streams or [stream_name(c) for c in CONTEXTS],
            keyring if keyring is not None else await load_keyring(nc),
            published=[(k.keyid, k.source, k.seq) for k in published] if keyring else (),
            site=site,
            replicas=replicas,
            anchors=anchors or [],
        )
    finally:
        await nc.close()


async def keys_on_log(nats_url: str, *, user: str = "", password: str = "") -> dict[str, Any]:
    nc = await _connect(nats_url, user, password)
    try:
        return keys_document(await published_keys(nc))
    finally:
        await nc.close()


def run_keys(nats_url: str, *, user: str = "", password: str = "") -> int:
    print(json.dumps(asyncio.run(keys_on_log(nats_url, user=user, password=password)), indent=2))
    return 0


def run_export(
    nats_url: str, streams: list[str], output: Path, *, user: str = "", password: str = ""
) -> int:
    from relais.export import export_streams

    async def export(out: IO[str]) -> dict[str, int]:
        nc = await _connect(nats_url, user, password)
        try:
            return await export_streams(nc, streams, out)
        finally:
            await nc.close()

    with output.open("w", encoding="utf-8") as out:
        counts = asyncio.run(export(out))
    console = Console(stderr=True)
    for stream, count in counts.items():
        if count < 0:
            console.print(f"[red]{stream}: no such stream / flux inexistant[/]")
        else:
            console.print(f"{stream}: {count} events / événements → {output}")
    return 1 if any(count < 0 for count in counts.values()) else 0


def run_verify(
    nats_url: str,
    *,
    json_output: bool = False,
    user: str = "",
    password: str = "",
    pinned: Path | None = None,
    site: str = "hq",
    replicas: int = 1,
    anchors: list[Path] | None = None,
    save: Path | None = None,
) -> int:
    try:
        kept = [head for path in anchors or [] for head in load_heads(path)]
        report = asyncio.run(
            verify_log(
                nats_url,
                user=user,
                password=password,
                pinned=pinned,
                site=site,
                replicas=replicas,
                anchors=kept,
            )
        )
    except (PinsInvalid, AnchorsInvalid) as exc:
        Console(stderr=True).print(f"[red]{exc}[/]")
        return 2
    if save is not None:
        # Kept by the auditor, outside the log: next time --anchors proves the log still
        # extends these heads (a truncated tail or a rewritten stream fails).
        save_heads(save, list(report.heads.values()))
    if json_output:
        print(json.dumps(report.as_dict(), indent=2))
        return 0 if report.ok else 1
    console = Console()
    table = Table(title="Relais log verification / Vérification du journal")
    table.add_column("stream / flux")
    table.add_column("events / événements", justify="right")
    table.add_column("head / tête (seq, running hash / hachage cumulé)")
    for stream, count in report.streams.items():
        head = report.heads.get(stream)
        table.add_row(stream, str(count), f"{head.seq} {head.hash}" if head else "-")
    console.print(table)
    console.print(
        f"chains / chaînes: {report.chains}  events / événements: {report.events}  "
        f"anchors / ancres: {report.anchors_checked}"
    )
    if report.ok:
        console.print(
            "[green]OK: every stream keeps its guarantees and its anchored heads, every chain "
            "and signature holds, no sequence is missing.[/]"
        )
        console.print(
            "[green]OK : chaque flux garde ses garanties et ses têtes ancrées, chaque chaîne "
            "et signature est valide, aucune séquence ne manque.[/]"
        )
        return 0
    for f in report.failures:
        console.print(f"[red]FAIL[/] {f.stream}:{f.seq} {f.subject} {f.problem}")
    console.print(f"[red]{len(report.failures)} failure(s) / échec(s)[/]")
    return 1


# -- relais audit case ----------------------------------------------------------------------


async def read_case_history(
    nc: NATS, case_id: str, as_of: datetime | None = None
) -> CaseHistory | None:
    """The history of a case straight from the streams, without the reporting service: every
    event of INTAKE, REFERRAL and CASEWORK is read (the records an event names are in its
    data, so no subject filter can find them), indexed as the service indexes it, and handed
    to the same assembling function as ``GET /audit/cases/{id}``."""
    contracts.load_all()
    js = nc.jetstream()
    candidates = []
    for stream in CASE_STREAMS:
        try:
            info = await js.stream_info(stream)
        except NotFoundError:
            continue  # a context that never wrote anything has nothing to tell
        if not info.state.messages:
            continue
        async for seq, subject, msg in iter_stored(nc, stream, ">", int(info.state.first_seq)):
            try:
                envelope = parse_envelope(msg.data or b"")
            except PoisonEvent:  # not an event at all; `relais audit verify` reports it
                continue
            candidates.append(index_envelope(stream, seq, subject, envelope))
    return assemble_history(case_id, candidates, as_of)


@dataclass(frozen=True)
class Reader:
    """Who runs ``relais audit case``: the read goes on the record like any other, appended to
    AUDIT under the command line's own signing key (published on AUDIT, so that
    ``relais audit verify`` checks it as it checks the services')."""

    user: str
    agency: str
    site: str
    keys_dir: Path
    role: str = "auditor"


async def record_read(nc: NATS, reader: Reader, history: CaseHistory) -> None:
    store = NatsEventStore(
        nc,
        key=SigningKey.load_or_create(reader.keys_dir / "relais-cli.pem"),
        source=f"/relais/{reader.site}/cli/audit",
        site=reader.site,
        writable_contexts=("audit",),
    )
    await publish_signing_key(store)
    at = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    purpose = "audit: case history (relais audit case)" + (
        f" as of {format_instant(history.as_of)}" if history.as_of else ""
    )
    actor = Actor(user=reader.user, agency=reader.agency, role=reader.role)
    # One access record per record the history shows, as the reporting API records them.
    for record_type, record_id in [
        (kind, record_id) for kind, ids in history.shown_ids().items() for record_id in ids
    ]:
        await store.append(
            Aggregate("audit", reader.site, "access", new_id()),
            0,
            [
                RecordAccessed(
                    user=reader.user,
                    agency=reader.agency,
                    role=reader.role,
                    service="relais-cli",
                    record_type=record_type,
                    record_id=record_id,
                    purpose=purpose,
                    at=at,
                )
            ],
            actor=actor,
        )


async def _read_case(
    nats_url: str,
    case_id: str,
    as_of: datetime | None,
    user: str,
    password: str,
    reader: Reader | None,
) -> CaseHistory | None:
    nc = await _connect(nats_url, user, password)
    try:
        history = await read_case_history(nc, case_id, as_of)
        if history is not None and reader is not None:
            # Before anything is shown: a read that cannot be recorded is not shown.
            await record_read(nc, reader, history)
        return history
    finally:
        await nc.close()


def run_case(
    nats_url: str,
    case_id: str,
    as_of: datetime | None,
    *,
    json_output: bool = False,
    user: str = "",
    password: str = "",
    reader: Reader | None = None,
) -> int:
    history = asyncio.run(_read_case(nats_url, case_id, as_of, user, password, reader))
    console = Console()
    if history is None:
        message = {
            "case_id": case_id,
            "error": "No event of the log names this case. / "
            "Aucun événement du journal ne concerne ce dossier.",
        }
        if json_output:
            print(json.dumps(message, indent=2, ensure_ascii=False))
        else:
            console.print(f"[red]{case_id}[/]: {message['error']}")
        return 1
    if json_output:
        print(json.dumps(history.as_dict(), indent=2, ensure_ascii=False))
        return 0
    _print_history(console, history)
    return 0


def _print_history(console: Console, history: CaseHistory) -> None:
    when = f" — as of / au {format_instant(history.as_of)}" if history.as_of else ""
    table = Table(title=f"Case / Dossier {history.case_id}{when}", show_lines=True)
    for column in ("time / heure", "event / événement", "by / par", "what it says / contenu"):
        table.add_column(column)
    for e in history.events:
        actor = e["actor"]
        changed = ", ".join(e["changed"]) or "-"
        table.add_row(
            f"{e['time']}\n{e['stream']}:{e['seq']}",
            f"{e['event']}\n{e['description']['fr']}\n{e['description']['en']}",
            f"{actor['user']}\n{actor['agency']}\n{actor['role']}",
            f"{json.dumps(e['data'], ensure_ascii=False, indent=1)}\nstate / état: {changed}",
        )
    console.print(table)
    console.print(
        f"children / enfants: {', '.join(history.ids('child')) or '-'}  "
        f"reports / signalements: {', '.join(history.ids('report')) or '-'}  "
        f"referrals / orientations: {', '.join(history.ids('referral')) or '-'}"
    )
    if history.as_of:
        state = Table(title="State / État")
        state.add_column("record / dossier")
        state.add_column("version", justify="right")
        state.add_column("fields / champs")
        for key, agg in sorted(history.state.items()):
            fields = json.dumps(agg["fields"], ensure_ascii=False, indent=1)
            state.add_row(f"{key}\n{agg['last_event']}", str(agg["version"]), fields)
        console.print(state)
