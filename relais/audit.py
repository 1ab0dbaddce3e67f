"""``relais audit``: prove the log whole."""

from __future__ import annotations

import asyncio
import json

import nats
from rich.console import Console
from rich.table import Table

from shared.keys import load_keyring
from shared.streams import CONTEXTS, stream_name
from shared.verify import VerifyReport, verify


async def verify_log(
    nats_url: str, streams: list[str] | None = None, *, user: str = "", password: str = ""
) -> VerifyReport:
    nc = await nats.connect(
        nats_url,
        connect_timeout=5,
        max_reconnect_attempts=1,
        user=user or None,
        password=password or None,
    )
    try:
        keyring = await load_keyring(nc)
        return await verify(nc, streams or [stream_name(c) for c in CONTEXTS], keyring)
    finally:
        await nc.close()


def run_verify(
    nats_url: str, *, json_output: bool = False, user: str = "", password: str = ""
) -> int:
    report = asyncio.run(verify_log(nats_url, user=user, password=password))
    if json_output:
        print(json.dumps(report.as_dict(), indent=2))
        return 0 if report.ok else 1
    console = Console()
    table = Table(title="Relais log verification / Vérification du journal")
    table.add_column("stream / flux")
    table.add_column("events / événements", justify="right")
    for stream, count in report.streams.items():
        table.add_row(stream, str(count))
    console.print(table)
    console.print(f"chains / chaînes: {report.chains}  events / événements: {report.events}")
    if report.ok:
        console.print("[green]OK: every chain and signature holds, no sequence is missing.[/]")
        console.print(
            "[green]OK : chaque chaîne et signature est valide, aucune séquence ne manque.[/]"
        )
        return 0
    for f in report.failures:
        console.print(f"[red]FAIL[/] {f.stream}:{f.seq} {f.subject} {f.problem}")
    console.print(f"[red]{len(report.failures)} failure(s) / échec(s)[/]")
    return 1
