"""A site's setup: its id, the embedded server's leaf node configuration at the hub and at an
office, and the office's login at the hub (``relais sites add``) with the credentials file
it takes to the office. The whole picture is in :mod:`relais.sites`."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from relais.embedded import write_private
from shared.nats_accounts import LEAF_PREFIX, leaf_users, load_or_create_passwords
from shared.streams import CONTEXTS

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
