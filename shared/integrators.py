"""The integrators a deployment feeds: who they are, their NATS login (only its bcrypt hash is
kept), their pseudonym key, their webhook. One JSON file (mode 0600) that ``relais
integrators`` edits and the reporting service and the NATS configuration read, so a change
needs no restart: reporting watches the file, and the NATS server is told to reload.

Each integrator reads its own copy of the public feed, ``public.<name>.>`` in the PUBLIC
stream, through one durable pull consumer named after it, which Relais creates and the
integrator may only read and acknowledge (decision 0021)."""

from __future__ import annotations

import base64
import ipaddress
import json
import os
import re
import secrets
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import bcrypt
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError
from pydantic import BaseModel, ConfigDict, Field

PUBLIC_STREAM = "PUBLIC"
PUBLIC_PREFIX = "public"
# Integrators' accounts import Relais's JetStream calls under this prefix (their own account
# has no JetStream, and the server answers $JS.API itself there).
API_PREFIX = "$JS.relais.API"
NAME_PATTERN = r"^[a-z][a-z0-9_]{1,31}$"
_NAME = re.compile(NAME_PATTERN)
BCRYPT_COST = 11


class IntegratorError(ValueError):
    """A refused change, with a reason in English and French."""


class Webhook(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str
    secret: str = Field(description="whsec_<base64>: the Standard Webhooks signing secret")


class Integrator(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=NAME_PATTERN)
    created_at: datetime
    revoked_at: datetime | None = None
    password_hash: str = Field(description="bcrypt hash of the NATS password")
    pseudonym_key: str = Field(description="base64 of 32 random bytes")
    webhook: Webhook | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    @property
    def key(self) -> bytes:
        return base64.b64decode(self.pseudonym_key)

    @property
    def account(self) -> str:
        return f"INTEGRATOR_{self.name}"

    @property
    def subjects(self) -> str:
        return subjects_of(self.name)

    @property
    def consumer(self) -> str:
        return self.name


class Registry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    integrators: dict[str, Integrator] = Field(default_factory=dict)

    def active(self) -> list[Integrator]:
        return [i for i in self.integrators.values() if i.active]


def subjects_of(name: str) -> str:
    return f"{PUBLIC_PREFIX}.{name}.>"


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise IntegratorError(
            "A name is 2 to 32 lower-case letters, digits or _, starting with a letter / "
            "Un nom compte 2 à 32 lettres minuscules, chiffres ou _, et commence par une lettre"
        )
    return name


def check_webhook_url(url: str) -> str:
    """HTTPS, or plain HTTP to this machine only (tests, a local relay): an integrator's
    events never cross a network unencrypted."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url
    if parts.scheme == "http" and parts.hostname and _loopback(parts.hostname):
        return url
    raise IntegratorError(
        "A webhook URL must use https (plain http only to this machine) / "
        "L'URL d'un webhook doit être en https (http seulement vers cette machine)"
    )


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def load(path: Path) -> Registry:
    if not path.exists():
        return Registry()
    return Registry.model_validate_json(path.read_text(encoding="utf-8"))


def save(path: Path, registry: Registry) -> None:
    """Atomically, readable by its owner only (it holds pseudonym keys and webhook secrets)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(registry.model_dump_json(indent=2))
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def add(path: Path, name: str, *, webhook_url: str | None = None) -> tuple[Integrator, str]:
    """Register an integrator; returns it and its NATS password, shown this once."""
    registry = load(path)
    check_name(name)
    if name in registry.integrators:
        raise IntegratorError(
            f"{name} exists already (a revoked name is never reused: its feed copy stays in "
            f"the log) / {name} existe déjà (un nom révoqué n'est jamais réutilisé)"
        )
    password = secrets.token_urlsafe(24)
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(BCRYPT_COST)).decode()
    webhook = None
    if webhook_url is not None:
        secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
        webhook = Webhook(url=check_webhook_url(webhook_url), secret=secret)
    integrator = Integrator(
        name=name,
        created_at=datetime.now(UTC),
        password_hash=hashed,
        pseudonym_key=base64.b64encode(secrets.token_bytes(32)).decode(),
        webhook=webhook,
    )
    registry.integrators[name] = integrator
    save(path, registry)
    return integrator, password


def revoke(path: Path, name: str) -> Integrator:
    registry = load(path)
    found = registry.integrators.get(name)
    if found is None:
        raise IntegratorError(f"no integrator {name} / aucun intégrateur {name}")
    if found.revoked_at is None:
        found = found.model_copy(update={"revoked_at": datetime.now(UTC)})
        registry.integrators[name] = found
        save(path, registry)
    return found


def credentials(integrator: Integrator, password: str, nats_url: str) -> dict[str, str]:
    """What to hand over to the integrator (the file ``relais integrators add`` writes)."""
    handover = {
        "name": integrator.name,
        "url": nats_url,
        "user": integrator.name,
        "password": password,
        "api_prefix": API_PREFIX,
        "stream": PUBLIC_STREAM,
        "consumer": integrator.consumer,
        "subjects": integrator.subjects,
    }
    if integrator.webhook is not None:
        handover["webhook_url"] = integrator.webhook.url
        handover["webhook_secret"] = integrator.webhook.secret
    return handover


def write_credentials(path: Path, handover: dict[str, str]) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(handover, fh, indent=2)
        fh.write("\n")


# -- the integrator's consumer on PUBLIC ---------------------------------------------------


def consumer_config(name: str, *, start_seq: int | None = None) -> ConsumerConfig:
    start = (
        {"deliver_policy": DeliverPolicy.BY_START_SEQUENCE, "opt_start_seq": start_seq}
        if start_seq and start_seq > 1
        else {"deliver_policy": DeliverPolicy.ALL}
    )
    return ConsumerConfig(
        durable_name=name,
        description=f"integrator {name}: its copy of the public feed",
        filter_subject=subjects_of(name),
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=60,
        max_deliver=-1,
        max_ack_pending=1000,
        **start,
    )


async def ensure_consumer(js: JetStreamContext, name: str) -> bool:
    """Create the integrator's durable consumer if it is missing (never move an existing one:
    it holds the integrator's position). True if it was created."""
    try:
        await js.consumer_info(PUBLIC_STREAM, name)
        return False
    except NotFoundError:
        await js.add_consumer(PUBLIC_STREAM, consumer_config(name))
        return True


async def reposition_consumer(js: JetStreamContext, name: str, start_seq: int) -> None:
    """Deliver the integrator's feed again from ``start_seq`` (1: from the beginning)."""
    try:
        await js.delete_consumer(PUBLIC_STREAM, name)
    except NotFoundError:
        pass
    await js.add_consumer(PUBLIC_STREAM, consumer_config(name, start_seq=start_seq))
