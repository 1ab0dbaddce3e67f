"""``relais streams``: the operator's step that creates the streams and keeps their
guarantees (services only check them), and a read-only check of the same."""

from __future__ import annotations

import asyncio

import nats
from nats.aio.client import Client as NATS
from rich.console import Console

from shared.streams import OPERATED, StreamMisconfigured, check_streams, ensure_streams


async def _connect(nats_url: str, user: str, password: str) -> NATS:
    return await nats.connect(
        [u.strip() for u in nats_url.split(",") if u.strip()],
        connect_timeout=5,
        max_reconnect_attempts=1,
        user=user or None,
        password=password or None,
    )


async def apply_streams(
    nats_url: str,
    *,
    site: str,
    user: str = "",
    password: str = "",
    replicas: int = 1,
    duplicate_window_s: float = 86_400.0,
) -> None:
    """Create every stream of the log (and the public feed) or bring it up to its guarantees;
    raises :class:`StreamMisconfigured` for one that cannot be made safe in place."""
    nc = await _connect(nats_url, user, password)
    try:
        await ensure_streams(
            nc.jetstream(timeout=10),
            site,
            contexts=OPERATED,
            replicas=replicas,
            duplicate_window_s=duplicate_window_s,
        )
    finally:
        await nc.close()


async def streams_problems(
    nats_url: str, *, site: str, user: str = "", password: str = "", replicas: int = 1
) -> dict[str, list[str]]:
    nc = await _connect(nats_url, user, password)
    try:
        return await check_streams(
            nc.jetstream(timeout=10), site, contexts=OPERATED, replicas=replicas
        )
    finally:
        await nc.close()


def run_apply(nats_url: str, *, site: str, user: str, password: str, replicas: int) -> int:
    console = Console(stderr=True)
    try:
        asyncio.run(
            apply_streams(nats_url, site=site, user=user, password=password, replicas=replicas)
        )
    except StreamMisconfigured as exc:
        console.print(f"[red]{exc}[/]")
        return 1
    console.print("streams ready / flux prêts: " + ", ".join(c.upper() for c in OPERATED))
    return 0


def run_check(nats_url: str, *, site: str, user: str, password: str, replicas: int) -> int:
    problems = asyncio.run(
        streams_problems(nats_url, site=site, user=user, password=password, replicas=replicas)
    )
    console = Console()
    if not problems:
        console.print("[green]OK: every stream keeps its guarantees / chaque flux est sûr[/]")
        return 0
    for name, found in sorted(problems.items()):
        console.print(f"[red]FAIL[/] {name}: {', '.join(found)}")
    return 1
