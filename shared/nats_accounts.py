"""NATS accounts and permissions: each service connects as its own user and may publish only
to its own context's subjects (and AUDIT), use the JetStream API it needs, and never delete
or purge; integrators live in a separate account that sees only the de-identified feed.

The same text configures the embedded server (``relais up``) and real deployments
(``relais nats-accounts``), so what the tests prove is what runs."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from shared.config import PROCESSES

# The context each service writes (reporting writes only AUDIT: access records, its keys).
SERVICE_CONTEXTS: dict[str, tuple[str, ...]] = {
    "intake": ("intake", "audit"),
    "referral": ("referral", "audit"),
    "casework": ("casework", "audit"),
    "reporting": ("audit", "public"),
    # The portal writes only account events (who gave whom which access) on AUDIT.
    "portal": ("audit",),
}
INTEGRATOR = "integrator"
ADMIN = "relais_admin"  # operator tooling: relais audit verify, stream upkeep, site links
PUBLIC_PREFIX = "public"


def users() -> tuple[str, ...]:
    return (*PROCESSES, INTEGRATOR, ADMIN)


def load_or_create_passwords(path: Path) -> dict[str, str]:
    """One random password per user, kept (mode 0600) beside the embedded server's data."""
    if path.exists():
        stored: dict[str, str] = json.loads(path.read_text())
        if set(stored) >= set(users()):
            return stored
    passwords = {user: secrets.token_urlsafe(24) for user in users()}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(passwords, fh)
    return passwords


def _list(items: list[str]) -> str:
    return "[" + ", ".join(json.dumps(i) for i in items) + "]"


def service_permissions(service: str, site: str) -> tuple[list[str], list[str]]:
    """(publish allow, publish deny) for one service at one site."""
    contexts = SERVICE_CONTEXTS[service]
    streams = [c.upper() for c in contexts]
    allow = [f"{c}.{site}.>" for c in contexts]
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


def accounts_config(site: str, passwords: dict[str, str]) -> str:
    """The ``accounts`` block of a nats-server configuration for one site."""
    service_users = []
    for service in PROCESSES:
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
    # Only the de-identified feed leaves this account.
    exports: [ {{ stream: "{PUBLIC_PREFIX}.>" }} ]
  }}
  INTEGRATORS: {{
    users: [
      {{
        user: {json.dumps(INTEGRATOR)}
        password: {json.dumps(passwords[INTEGRATOR])}
        permissions: {{
          publish: {{ deny: [">"] }}
          subscribe: {{ allow: ["{PUBLIC_PREFIX}.>", "_INBOX.>"] }}
        }}
      }}
    ]
    imports: [ {{ stream: {{ account: RELAIS, subject: "{PUBLIC_PREFIX}.>" }} }} ]
  }}
}}
"""
