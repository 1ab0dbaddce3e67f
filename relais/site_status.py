"""What ``relais sites status`` shows: per site and stream, the sources, their last sequence
and lag."""

from __future__ import annotations

import json
from dataclasses import dataclass

from nats.aio.client import Client as NATS

from relais.site_setup import LINKED_CONTEXTS
from shared.streams import stream_name


@dataclass(frozen=True)
class SourceState:
    stream: str
    site: str
    domain: str
    # This stream's sequence of the last event copied from that site (0: none yet).
    last_seq: int
    lag: int | None
    active_s: float | None
    error: str | None


@dataclass(frozen=True)
class StreamState:
    stream: str
    # The site whose subjects the stream listens on: the site of the server asked.
    site: str
    last_seq: int
    messages: int
    sources: list[SourceState]


async def sites_status(nc: NATS) -> list[StreamState]:
    """Per stream: its last sequence, and per site it sources, how many messages it has yet
    to copy (lag) and how long since the source was last heard of."""
    states = []
    for context in LINKED_CONTEXTS:
        name = stream_name(context)
        reply = await nc.request(f"$JS.API.STREAM.INFO.{name}", b"", timeout=5)
        info = json.loads(reply.data or b"{}")
        if "error" in info:
            continue
        sources = []
        for source in info.get("sources") or []:
            filter_subject = source.get("filter_subject") or ""
            parts = filter_subject.split(".")
            api = (source.get("external") or {}).get("api", "")
            domain = api.split(".")[1] if api.startswith("$JS.") and api.count(".") >= 2 else ""
            active = source.get("active")
            error = source.get("error")
            sources.append(
                SourceState(
                    stream=name,
                    site=parts[1] if len(parts) > 1 else filter_subject,
                    domain=domain,
                    last_seq=await _last_seq(nc, name, filter_subject),
                    lag=source.get("lag"),
                    active_s=None if active in (None, -1) else active / 1e9,
                    error=(error or {}).get("description") if error else None,
                )
            )
        state = info.get("state") or {}
        own = ((info.get("config") or {}).get("subjects") or [""])[0].split(".")
        states.append(
            StreamState(
                name,
                own[1] if len(own) > 1 else "?",
                int(state.get("last_seq", 0)),
                int(state.get("messages", 0)),
                sources,
            )
        )
    return states


async def _last_seq(nc: NATS, stream: str, subjects: str) -> int:
    request = json.dumps({"last_by_subj": subjects}).encode()
    reply = await nc.request(f"$JS.API.STREAM.MSG.GET.{stream}", request, timeout=5)
    answer = json.loads(reply.data or b"{}")
    return int((answer.get("message") or {}).get("seq", 0))


def format_status(states: list[StreamState]) -> list[str]:
    site = states[0].site if states else "?"
    lines = [f"site {site}", f"{'stream':<10} {'from':<12} {'last seq':>9} {'lag':>6}  heard"]
    for state in states:
        lines.append(f"{state.stream:<10} {state.site:<12} {state.last_seq:>9} {'-':>6}  (own)")
        for source in state.sources:
            lag = "?" if source.lag is None else str(source.lag)
            if source.error:
                heard = f"error: {source.error}"
            elif source.active_s is None:
                heard = "never / jamais"
            else:
                heard = f"{source.active_s:.1f} s ago"
            last = str(source.last_seq) if source.last_seq else "-"
            lines.append(f"{'':<10} {source.site:<12} {last:>9} {lag:>6}  {heard}")
    return lines
