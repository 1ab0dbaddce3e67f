"""``relais user add``: an account created from the command line (an agency's first
administrator, or an auditor or oversight account, which only the operator gives), with the
one-time set-up link to hand over. The account event goes on AUDIT like any other (the
streams are the operator's: ``relais up`` has made them), signed by a key of the command
line's own, published there first."""

from __future__ import annotations

import getpass
import json
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import nats

from services.portal.app.accounts import AccountBook, Issued
from services.portal.app.links import LinkSigner
from shared.config import PORTAL, Settings
from shared.envelope import Actor
from shared.keys import publish_signing_key
from shared.nats_store import NatsEventStore
from shared.signing import SigningKey


@dataclass(frozen=True)
class NewUser:
    email: str
    agency: str
    roles: list[str]
    unit: str | None
    name: str | None


def _login(settings: Settings, data_dir: Path) -> tuple[str | None, str | None]:
    """The portal's NATS user on the embedded server, or the configured one."""
    if settings.nats_user:
        return settings.nats_user, settings.nats_password
    users = data_dir / "nats" / "users.json"
    if users.exists():
        return PORTAL, str(json.loads(users.read_text())[PORTAL])
    return None, None


async def add_user(new: NewUser, settings: Settings, data_dir: Path) -> Issued:
    url = settings.nats_url or f"nats://127.0.0.1:{settings.embedded_nats_port}"
    user, password = _login(settings, data_dir)
    nc = await nats.connect(
        [u.strip() for u in url.split(",") if u.strip()],
        user=user,
        password=password,
        # A stopped instance is said at once: nats-py takes 0 attempts as "for ever".
        max_reconnect_attempts=1,
        allow_reconnect=False,
        connect_timeout=5,
    )
    try:
        keys = data_dir / "keys"
        store = NatsEventStore(
            nc,
            key=SigningKey.load_or_create(keys / "portal-cli.pem"),
            source=f"/relais/{settings.site}/{PORTAL}/cli",
            site=settings.site,
            writable_contexts=("audit",),
        )
        await publish_signing_key(store)
        book = AccountBook(
            store=store,
            site=settings.site,
            commit=store.append,
            links=LinkSigner.load_or_create(keys),
            link_lifetime=timedelta(hours=settings.portal_setup_link_hours),
            base_url=settings.public_portal_url,
        )
        try:
            operator = getpass.getuser()
        except (OSError, KeyError):
            operator = "unknown"
        return await book.create(
            email=new.email,
            display_name=new.name,
            agency=new.agency,
            unit=new.unit,
            roles=new.roles,
            actor=Actor(user=f"operator:{operator}", agency=new.agency, role="operator"),
            by_operator=True,
        )
    finally:
        await nc.close()
