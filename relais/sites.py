"""Regional offices with no code to write (``relais sites``, ``relais up --site --hub``).

The hub (``RELAIS_LEAF_PORT`` set) runs its embedded nats-server in a JetStream domain named
after its site and opens a leaf node port. ``relais sites add parakou`` gives the office a
login at the hub (``leaf_parakou`` in the NATS users file, so every rewrite of the accounts
keeps it, and the running server reloads it) and writes the office's credentials file. At the
office, ``relais up --site parakou --hub nats-leaf://HOST:7422 --hub-credentials FILE`` runs
its nats-server as a leaf node of the hub, in a domain of its own (``parakou``): the office
keeps working while the link is down. Its streams listen only on its own subjects; each of
them sources the other sites' subjects from the hub's domain, and the hub's streams source
the office's (``shared.sites.link_sites``, idempotent), which ``relais up`` does at the
office as soon as the hub answers and ``relais sites link parakou`` does at the hub.

The domain of a site's server is the site's own id, so the hub's is ``hq`` by default."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nats
from nats.aio.client import Client as NATS

from relais.embedded import write_private
from shared.nats_accounts import ADMIN, LEAF_PREFIX, leaf_users, load_or_create_passwords
from shared.sites import link_sites
from shared.streams import CONTEXTS, stream_name

log = logging.getLogger(__name__)

SITE_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
# PUBLIC is each site's own feed for its integrators: it is not shared between sites.
LINKED_CONTEXTS: tuple[str, ...] = CONTEXTS
LEAF_INCLUDE = "leafnodes.conf"
LINK_RETRY_S = 5.0


class SiteError(ValueError):
    """A site command that cannot be carried out (the message says why)."""


@dataclass(frozen=True)
class HubCredentials:
    """What an office needs to join the hub: written by ``relais sites add`` at the hub."""

    site: str
    hub_site: str
    user: str
    password: str
    # The other offices known at the hub when this one was added (sourced through the hub).
    sites: tuple[str, ...] = ()
    # The hub's local token-signing key (PEM), if shared (relais sites add --share-token-key):
    # then each site accepts the other's tokens, and a command forwarded to the owner passes
    # its authentication. Without it, every site needs the same identity provider.
    token_key: str = ""

    def to_json(self) -> str:
        return json.dumps(
            {
                "site": self.site,
                "hub_site": self.hub_site,
                "user": self.user,
                "password": self.password,
                "sites": list(self.sites),
                **({"token_key": self.token_key} if self.token_key else {}),
            },
            indent=2,
        )

    @classmethod
    def load(cls, path: Path) -> HubCredentials:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(
                site=str(data["site"]),
                hub_site=str(data["hub_site"]),
                user=str(data["user"]),
                password=str(data["password"]),
                sites=tuple(str(s) for s in data.get("sites", ())),
                token_key=str(data.get("token_key", "")),
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise SiteError(
                f"cannot read the hub credentials {path} ({type(exc).__name__}) / "
                f"impossible de lire les identifiants du siège {path}"
            ) from None


def check_site(site: str) -> str:
    if not SITE_PATTERN.match(site):
        raise SiteError(
            f"site {site!r}: lower-case letters, digits and _, starting with a letter / "
            f"site {site!r} : lettres minuscules, chiffres et _, commençant par une lettre"
        )
    return site


# -- the embedded server's configuration ----------------------------------------------------


def hub_leaf_config(host: str, port: int) -> str:
    """The hub's leaf node listener. No ``authorization`` block: an office logs in as its
    ``leaf_<site>`` user of the accounts file, which a reload changes (nats-server 2.14 does
    not reload a leafnodes block's users)."""
    return f'leafnodes {{\n  listen: "{host}:{port}"\n}}\n'


def office_leaf_config(hub_url: str, credentials: HubCredentials) -> str:
    """The office's link to the hub: a leaf node remote bound to the RELAIS account."""
    match = re.match(r"^(nats-leaf|tls)://([^/@]+)$", hub_url.strip())
    if match is None:
        raise SiteError(
            f"--hub must look like nats-leaf://HOST:7422 (no login: it is in the credentials "
            f"file), not {hub_url!r} / --hub doit être de la forme nats-leaf://HÔTE:7422"
        )
    url = f"{match.group(1)}://{credentials.user}:{credentials.password}@{match.group(2)}"
    return (
        "leafnodes {\n  remotes: [\n    {\n"
        f"      urls: [{json.dumps(url)}]\n"
        "      account: RELAIS\n    }\n  ]\n}\n"
    )


def write_leaf_include(nats_dir: Path, text: str) -> str:
    """The leafnodes block in a file of its own, readable by its owner only (it may hold the
    office's password); returns the include line for the server's configuration."""
    write_private(nats_dir / LEAF_INCLUDE, text)
    return f'include "{LEAF_INCLUDE}"'


# -- the hub's side: credentials ------------------------------------------------------------


def add_site(
    users_path: Path, site: str, hub_site: str, token_key: Path | None = None
) -> HubCredentials:
    """Give ``site`` a leaf node login at this hub (kept if it has one already); with
    ``token_key``, the hub's token-signing key goes with it."""
    check_site(site)
    if site == hub_site:
        raise SiteError(f"{site} is this hub's own site / {site} est le site du siège")
    passwords = load_or_create_passwords(users_path)
    user = f"{LEAF_PREFIX}{site}"
    if user not in passwords:
        import secrets

        passwords[user] = secrets.token_urlsafe(24)
        write_private(users_path, json.dumps(passwords))
    others = tuple(s for s in leaf_users(passwords) if s != site)
    pem = token_key.read_text(encoding="ascii") if token_key is not None else ""
    return HubCredentials(site, hub_site, user, passwords[user], others, pem)


def adopt_token_key(keys_dir: Path, credentials: HubCredentials) -> str | None:
    """At the office: sign tokens with the hub's key, if the credentials carry it. Says what
    happened (None: nothing to do)."""
    if not credentials.token_key:
        return None
    path = keys_dir / "token-signing.pem"
    if path.exists():
        if path.read_text(encoding="ascii") == credentials.token_key:
            return None
        return (
            f"{path} differs from the hub's token key: tokens of this office are refused at "
            f"the hub; move it away and start again to use the hub's"
        )
    write_private(path, credentials.token_key)
    return f"tokens signed with the hub's key ({path})"


# -- linking --------------------------------------------------------------------------------


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


# -- status ---------------------------------------------------------------------------------


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
