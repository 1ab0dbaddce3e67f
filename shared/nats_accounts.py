"""NATS accounts and permissions, least privilege: each service connects as its own user and
may publish only to its own context's subjects (and AUDIT), read every stream, and create and
use only its own durable consumers; it may never create, update, seal, delete or purge a
stream, delete a message, or touch another service's consumers. Only the operator user
(``relais_admin``) creates and updates streams, and even it may not delete or purge them.
Each integrator has an account of its own that can only read its own consumer of the
de-identified feed (``shared.nats_integrators``).

The same text configures the embedded server (``relais up``) and real deployments
(``relais nats-accounts``), so what the tests prove is what runs.

NATS permissions match whole subject tokens (no ``intake_*``), so a service's consumers are
listed by name: ``relais`` gathers them from each service's declared projections
(:func:`relais.consumers.service_consumers`). A new projection therefore needs the accounts
regenerated in a deployment (the embedded server's are, at every start)."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from shared import nats_integrators
from shared.config import PROCESSES
from shared.integrators import Integrator
from shared.streams import CONTEXTS, PUBLIC

# The context each service writes (reporting writes only AUDIT: access records, its keys).
SERVICE_CONTEXTS: dict[str, tuple[str, ...]] = {
    "intake": ("intake", "audit"),
    "referral": ("referral", "audit"),
    "casework": ("casework", "audit"),
    "reporting": ("audit", "public"),
    # The portal writes only account events (who gave whom which access) on AUDIT.
    "portal": ("audit",),
}
ADMIN = "relais_admin"  # operator tooling: streams, relais audit verify, site links
# A regional office's leaf node logs in to the hub as ``leaf_<site>`` (relais sites add keeps
# its password in the same users file): ``relais/sites.py``.
LEAF_PREFIX = "leaf_"
# Commands on another site's aggregate travel to the owner's service here (shared/forwarding).
FORWARD_PREFIX = "relais.forward"

# (stream, consumer name) pairs a service's projectors use.
Consumers = Iterable[tuple[str, str]]

# What a service may do with its own durable consumers (nats-py uses DURABLE.CREATE; newer
# clients CREATE.<stream>.<consumer>[.<filter>]; both are checked in the tests).
OWN_CONSUMER_VERBS = ("DURABLE.CREATE", "CREATE", "INFO", "DELETE", "MSG.NEXT")
# Reading is open to every service: the log is shared by design.
READ_SUBJECTS = (
    "$JS.API.INFO",
    "$JS.API.STREAM.INFO.*",
    "$JS.API.STREAM.MSG.GET.*",
    "$JS.API.DIRECT.GET.*",
    "$JS.API.DIRECT.GET.*.>",
)
# Never, for anyone but the server's own administrator, whatever an allow rule says.
LOG_DESTROYING = (
    "$JS.API.STREAM.DELETE.>",
    "$JS.API.STREAM.PURGE.>",
    "$JS.API.STREAM.MSG.DELETE.>",
)
# Never for a service: changing streams, and the account's and cluster's administration.
SERVICE_DENIED = (
    "$JS.API.STREAM.CREATE.>",
    "$JS.API.STREAM.UPDATE.>",
    *LOG_DESTROYING,
    "$JS.API.STREAM.SNAPSHOT.>",
    "$JS.API.STREAM.RESTORE.>",
    "$JS.API.STREAM.LEADER.STEPDOWN.>",
    "$JS.API.STREAM.PEER.REMOVE.>",
    "$JS.API.ACCOUNT.>",
    "$JS.API.META.>",
    "$JS.API.SERVER.>",
)


def users() -> tuple[str, ...]:
    return (*PROCESSES, ADMIN)


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


def _list(items: Iterable[str]) -> str:
    return "[" + ", ".join(json.dumps(i) for i in items) + "]"


def consumer_subjects(stream: str, consumer: str) -> list[str]:
    """Every subject through which one durable consumer is created, read and acknowledged."""
    base = [f"$JS.API.CONSUMER.{verb}.{stream}.{consumer}" for verb in OWN_CONSUMER_VERBS]
    return [
        *base,
        f"$JS.API.CONSUMER.CREATE.{stream}.{consumer}.>",
        f"$JS.ACK.{stream}.{consumer}.>",
    ]


def service_permissions(
    service: str, site: str, consumers: Consumers = ()
) -> tuple[list[str], list[str]]:
    """(publish allow, publish deny) for one service at one site."""
    # The public feed's subjects name the integrator before the site (decision 0021).
    allow = [
        public_subjects(site) if c == "public" else f"{c}.{site}.>"
        for c in SERVICE_CONTEXTS[service]
    ]
    allow += READ_SUBJECTS
    # Forward a command to the same service at the site that owns the aggregate.
    allow.append(f"{FORWARD_PREFIX}.*.{service}")
    for stream, consumer in sorted(set(consumers)):
        allow += consumer_subjects(stream, consumer)
    return allow, list(SERVICE_DENIED)


def public_subjects(site: str) -> str:
    """What this site's reporting publishes to PUBLIC: public.<integrator>.<site>.<...>."""
    return f"public.*.{site}.>"


def admin_permissions() -> tuple[list[str], list[str]]:
    """The operator: everything (streams, site links, verification) but destroying the log."""
    return [">"], list(LOG_DESTROYING)


def leaf_permissions() -> tuple[list[str], list[str]]:
    """A regional office's leaf node login at the hub: what the operator may do (it links
    streams and carries sourcing and forwarded commands both ways), but never destroy the log
    nor publish on an event subject. Sourcing reaches the hub through the JetStream API and
    delivery subjects, never by publishing on the events' own subjects: a message on one of
    those from an office could only be an event forged into the hub's streams."""
    allow, deny = admin_permissions()
    forged = [f"{context}.>" for context in (*CONTEXTS, PUBLIC)]
    return allow, [*deny, *forged]


def _user(
    name: str,
    password: str,
    allow: list[str],
    deny: list[str],
    indent: str,
    *,
    responses: bool = False,
) -> str:
    # allow_responses: the user may answer a request made to it (a forwarded command), once,
    # on the reply subject it came with, and nothing else.
    answers = f"\n{indent}    allow_responses: true" if responses else ""
    return f"""{indent}{{
{indent}  user: {json.dumps(name)}
{indent}  password: {json.dumps(password)}
{indent}  permissions: {{
{indent}    publish: {{ allow: {_list(allow)}, deny: {_list(deny)} }}
{indent}    subscribe: {{ allow: [">"] }}{answers}
{indent}  }}
{indent}}}"""


def leaf_users(passwords: Mapping[str, str]) -> dict[str, str]:
    """The regional offices' leaf node logins among the stored passwords (site -> password)."""
    return {
        name.removeprefix(LEAF_PREFIX): password
        for name, password in sorted(passwords.items())
        if name.startswith(LEAF_PREFIX)
    }


def accounts_config(
    site: str,
    passwords: dict[str, str],
    consumers: Mapping[str, Consumers] | None = None,
    integrators: Sequence[Integrator] = (),
) -> str:
    """The ``accounts`` block of a nats-server configuration for one site. ``consumers``: per
    service, the (stream, consumer) pairs its projectors use (reporting's include those of
    each integrator's feed); a service without any may create no consumer at all. An account
    for each active integrator."""
    consumers = consumers or {}
    active = [i for i in integrators if i.active]
    exported = ",\n      ".join(nats_integrators.exports(active))
    service_users = [
        _user(
            service,
            passwords[service],
            *service_permissions(service, site, consumers.get(service, ())),
            indent="      ",
            responses=True,
        )
        for service in PROCESSES
    ]
    admin = _user(ADMIN, passwords[ADMIN], *admin_permissions(), indent="      ")
    # A leaf node carries its site's streams' sourcing, the operator's links and forwarded
    # commands both ways; like the operator, it may never destroy the log.
    for office, password in leaf_users(passwords).items():
        admin += "\n" + _user(
            f"{LEAF_PREFIX}{office}", password, *leaf_permissions(), indent="      "
        )
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
