"""Linking sites: each site's streams source the other sites' events across JetStream domains.

A regional office runs a leaf node with its own JetStream domain; its streams listen only on
its own subjects (``<context>.<site>.>``, see :mod:`shared.streams`). The hub's stream for a
context sources the office's with a filter on the office's subjects, and the office's stream
sources the hub's with a filter on the hub's (or on another office's, which the hub already
holds). Sourcing is resumable: after an outage each side fetches what it missed by itself.

A sourced copy gets a new sequence in the receiving stream and a ``Nats-Stream-Source``
header; its subject and bytes are unchanged, so signatures and hash chains still verify.
Only the owning site appends to an aggregate (the event store refuses other sites' subjects).
"""

from __future__ import annotations

import logging
from dataclasses import replace

from nats.js import JetStreamContext
from nats.js.api import ExternalStream, StreamSource

from shared.streams import stream_name

log = logging.getLogger(__name__)


def site_source(context: str, remote_site: str, remote_domain: str) -> StreamSource:
    """The source that copies ``remote_site``'s events of ``context`` from ``remote_domain``."""
    return StreamSource(
        name=stream_name(context),
        filter_subject=f"{context}.{remote_site}.>",
        external=ExternalStream(api=f"$JS.{remote_domain}.API"),
    )


def subjects_overlap(a: str, b: str) -> bool:
    """Whether some subject matches both patterns (``*`` one token, ``>`` the rest)."""
    left, right = a.split("."), b.split(".")
    for x, y in zip(left, right, strict=False):
        if x == ">" or y == ">":
            return True
        if x != y and "*" not in (x, y):
            return False
    return len(left) == len(right)


def _same_source(a: StreamSource, b: StreamSource) -> bool:
    api_a = a.external.api if a.external else None
    api_b = b.external.api if b.external else None
    return a.name == b.name and a.filter_subject == b.filter_subject and api_a == api_b


async def link_sites(
    js: JetStreamContext,
    *,
    context: str,
    site: str,
    remote_site: str,
    remote_domain: str,
) -> bool:
    """Make this site's stream for ``context`` source ``remote_site``'s events from the stream
    of the same name in JetStream domain ``remote_domain``. Keeps the sources already there;
    does nothing if this one is present. Returns whether the stream was changed."""
    if remote_site == site:
        raise ValueError(f"site {site!r} cannot source its own events")
    name = stream_name(context)
    config = (await js.stream_info(name)).config
    remote_subjects = f"{context}.{remote_site}.>"
    captured = [s for s in config.subjects or [] if subjects_overlap(s, remote_subjects)]
    if captured:
        # Across a leaf node both domains would capture the remote site's publishes, and the
        # sourced copies would come on top (see docs/architecture.md on regional offices).
        raise ValueError(f"stream {name} listens on {captured}, which holds {remote_subjects}")
    wanted = site_source(context, remote_site, remote_domain)
    sources = list(config.sources or [])
    if any(_same_source(existing, wanted) for existing in sources):
        return False
    await js.update_stream(replace(config, sources=[*sources, wanted]))
    log.info(
        "stream %s of site %s sources %s from domain %s", name, site, remote_subjects, remote_domain
    )
    return True


def source_site(source: StreamSource, context: str) -> str | None:
    """The site a stream's source copies (its filter ``<context>.<site>.>``), or None for a
    source of another shape."""
    parts = (source.filter_subject or "").split(".")
    if len(parts) == 3 and parts[0] == context and parts[2] == ">" and parts[1] not in ("*", ">"):
        return parts[1]
    return None


async def sourced_sites(js: JetStreamContext, context: str) -> set[str]:
    """The sites this site's stream for ``context`` copies events from: the ones an operator
    linked (``relais sites``), which are what a running site truly knows of the others."""
    config = (await js.stream_info(stream_name(context))).config
    sites = (source_site(source, context) for source in config.sources or [])
    return {site for site in sites if site is not None}
