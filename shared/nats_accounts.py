"""NATS accounts and permissions: each service connects as its own user and may publish only
to its own context's subjects (and AUDIT), use the JetStream API it needs, and never delete
or purge; each integrator has an account of its own that can only read its own consumer of
the de-identified feed (``shared.nats_integrators``).

The same text configures the embedded server (``relais up``) and real deployments
(``relais nats-accounts``), so what the tests prove is what runs."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Sequence
from pathlib import Path

from shared import nats_integrators
from shared.config import SERVICES
from shared.integrators import Integrator

# The context each service writes (reporting writes only AUDIT: access records, its keys).
SERVICE_CONTEXTS: dict[str, tuple[str, ...]] = {
    "intake": ("intake", "audit"),
    "referral": ("referral", "audit"),
    "casework": ("casework", "audit"),
    "reporting": ("audit", "public"),
}
ADMIN = "relais_admin"  # operator tooling: relais audit verify, stream upkeep, site links


def users() -> tuple[str, ...]:
    return (*SERVICES, ADMIN)


def load_or_create_passwords(path: Path) -> dict[str, str]:
    """One random password per user, kept (mode 0600) beside the embedded server's data. A
    password once written is never replaced (a server running with it would refuse the new
    one); a user added since gets one of its own."""
    stored: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    missing = [user for user in users() if user not in stored]
    if not missing:
        return stored
    passwords = {**stored, **{user: secrets.token_urlsafe(24) for user in missing}}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(passwords, fh)
    os.replace(tmp, path)
    return passwords


def _list(items: list[str]) -> str:
    return "[" + ", ".join(json.dumps(i) for i in items) + "]"


def service_permissions(service: str, site: str) -> tuple[list[str], list[str]]:
    """(publish allow, publish deny) for one service at one site."""
    contexts = SERVICE_CONTEXTS[service]
    streams = [c.upper() for c in contexts]
    # The public feed's subjects start with the integrator, then the site (decision 0014).
    allow = [f"{c}.>" if c == "public" else f"{c}.{site}.>" for c in contexts]
    allow += [f"$JS.API.STREAM.{verb}.{s}" for s in streams for verb in ("CREATE", "UPDATE")]
    allow += [
        "$JS.API.INFO",
        "$JS.API.STREAM.INFO.*",
        "$JS.API.STREAM.NAMES",
        "$JS.API.STREAM.LIST",
        "$JS.API.DIRECT.GET.*",
        "$JS.API.DIRECT.GET.*.>",
        "$JS.API.STREAM.MSG.GET.*",
        "$JS.API.CONSUMER.>",
        "$JS.ACK.>",
        "$JS.FC.>",
        "_INBOX.>",
    ]
    deny = [
        "$JS.API.STREAM.DELETE.>",
        "$JS.API.STREAM.PURGE.>",
        "$JS.API.STREAM.MSG.DELETE.>",
    ]
    return allow, deny


def accounts_config(
    site: str, passwords: dict[str, str], integrators: Sequence[Integrator] = ()
) -> str:
    """The ``accounts`` block of a nats-server configuration for one site, with an account
    for each active integrator."""
    active = [i for i in integrators if i.active]
    exported = ",\n      ".join(nats_integrators.exports(active))
    service_users = []
    for service in SERVICES:
        allow, deny = service_permissions(service, site)
        service_users.append(
            f"""      {{
        user: {json.dumps(service)}
        password: {json.dumps(passwords[service])}
        permissions: {{
          publish: {{ allow: {_list(allow)}, deny: {_list(deny)} }}
          subscribe: {{ allow: [">"] }}
        }}
      }}"""
        )
    admin = f"""      {{
        user: {json.dumps(ADMIN)}
        password: {json.dumps(passwords[ADMIN])}
        permissions: {{
          publish: {{ allow: [">"], deny: {_list(service_permissions("intake", site)[1])} }}
          subscribe: {{ allow: [">"] }}
        }}
      }}"""
    return f"""accounts {{
  RELAIS: {{
    jetstream: enabled
    users: [
{chr(10).join(service_users)}
{admin}
    ]
    # Only each integrator's own consumer of the de-identified feed leaves this account.
    exports: [
      {exported}
    ]
  }}
{nats_integrators.accounts(active)}
}}
"""
