"""Linking sites: each site's streams source the other sites' subjects (idempotent), at the
hub and at an office, and an office keeps trying while the hub is away (:class:`HubLinker`)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from typing import Any

import nats
from nats.aio.client import Client as NATS

from relais.site_setup import (
    LINK_RETRY_S,
    LINKED_CONTEXTS,
    SITE_PATTERN,
    HubCredentials,
)
from shared.nats_accounts import ADMIN
from shared.sites import link_sites
from shared.streams import stream_name


async def _quiet(error: Exception) -> None:
    return None


async def admin_connect(
    url: str, password: str, *, timeout: float = 5.0, user: str = ADMIN
) -> NATS:
    return await nats.connect(
        url,
        user=user or None,
        password=password or None,
        connect_timeout=timeout,
        # 1, not 0: nats-py 2.16 takes 0 as "keep trying" while it looks for a first server.
        max_reconnect_attempts=1,
        allow_reconnect=False,
        error_cb=_quiet,  # the caller says what failed, in a line, not a traceback
    )


async def link_office_streams(
    nc: NATS, site: str, hub_site: str, others: tuple[str, ...] = ()
) -> list[str]:
    """This office's streams source the hub's subjects, and the other offices' ones that
    the hub holds, from the hub's domain (local: works while the link is down)."""
    js = nc.jetstream(timeout=5)
    changed = []
    for context in LINKED_CONTEXTS:
        for remote in (hub_site, *others):
            if remote == site:
                continue
            if await link_sites(
                js, context=context, site=site, remote_site=remote, remote_domain=hub_site
            ):
                changed.append(f"{stream_name(context)} <- {remote}")
    return changed


async def link_at_hub(
    js_hub: Any, hub_site: str, office: str, domain: str | None = None
) -> list[str]:
    """The hub's streams source ``office``'s subjects from the office's domain (by default
    named after it). Any site's streams, in fact: at an office whose server runs the deploy/
    files, ``relais sites link hq --domain hub``."""
    changed = []
    for context in LINKED_CONTEXTS:
        if await link_sites(
            js_hub,
            context=context,
            site=hub_site,
            remote_site=office,
            remote_domain=domain or office,
        ):
            changed.append(f"{stream_name(context)} <- {office}")
    return changed


async def link_hub_from_office(nc: NATS, hub_site: str, office: str) -> list[str]:
    """From the office, through the leaf node: the hub's streams source the office."""
    return await link_at_hub(nc.jetstream(domain=hub_site, timeout=3), hub_site, office)


class HubLinker:
    """At the office, in the background: link the hub's streams to the office's as soon as
    the hub answers; then, every few seconds while the office runs, copy the offices the hub
    has come to know since (their events, through the hub's domain). Idempotent: an
    existing link is left as it is."""

    def __init__(
        self,
        nats_url: str,
        password: str,
        credentials: HubCredentials,
        say: Callable[[str], None],
        interval_s: float = LINK_RETRY_S,
    ) -> None:
        self.nats_url = nats_url
        self.password = password
        self.credentials = credentials
        self.say = say
        self.interval_s = interval_s
        self.done = threading.Event()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="hub-link", daemon=True)

    def start(self) -> HubLinker:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()

    def _run(self) -> None:
        waited = False
        hub, office = self.credentials.hub_site, self.credentials.site
        while not self.stopping.is_set():
            try:
                linked, others = asyncio.run(self._attempt())
            except Exception as exc:
                if not waited and not self.done.is_set():
                    self.say(
                        f"hub {hub} not reachable yet ({type(exc).__name__}); its streams will "
                        "be linked to this office when it answers"
                    )
                    waited = True
            else:
                if not self.done.is_set():
                    what = ", ".join(linked) if linked else "already linked"
                    self.say(f"hub {hub} linked to {office}: {what}")
                    self.done.set()
                elif linked:
                    self.say(f"hub {hub} linked to {office}: {', '.join(linked)}")
                if others:
                    self.say(f"{office} copies, through hub {hub}: {', '.join(others)}")
            self.stopping.wait(self.interval_s)

    async def _attempt(self) -> tuple[list[str], list[str]]:
        hub, office = self.credentials.hub_site, self.credentials.site
        nc = await admin_connect(self.nats_url, self.password, timeout=3)
        try:
            linked = await link_hub_from_office(nc, hub, office)
            known = await sites_sourced(nc, domain=hub)
            others = tuple(sorted(known - {hub, office}))
            return linked, await link_office_streams(nc, office, hub, others)
        finally:
            await nc.close()


async def sites_sourced(nc: NATS, *, domain: str | None = None) -> set[str]:
    """The sites whose events the streams (of ``domain``, through a leaf node) copy."""
    api = f"$JS.{domain}.API" if domain else "$JS.API"
    sites: set[str] = set()
    for context in LINKED_CONTEXTS:
        reply = await nc.request(f"{api}.STREAM.INFO.{stream_name(context)}", b"", timeout=3)
        info = json.loads(reply.data or b"{}")
        for source in info.get("sources") or []:
            parts = (source.get("filter_subject") or "").split(".")
            if len(parts) > 1 and SITE_PATTERN.match(parts[1]):
                sites.add(parts[1])
    return sites
