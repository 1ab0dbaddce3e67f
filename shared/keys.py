"""Publishing this instance's public key on the AUDIT stream, collecting everyone's, and
pinning them: an auditor who checked the keys out of band (with each site's operator) trusts
only those, so a key slipped onto AUDIT by whoever can write there proves nothing."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from nats.aio.client import Client as NATS

from shared.audit_events import SigningKeyPublished
from shared.envelope import Actor, Aggregate, b64, unb64
from shared.eventstore import ConcurrencyConflict, EventStore
from shared.reading import iter_stored
from shared.recorded import PoisonEvent, decode
from shared.signing import Keyring

KEY_SUBJECTS = "audit.*.signingkey.*.SigningKeyPublished"


async def publish_signing_key(store: EventStore) -> None:
    """Idempotent: the key's aggregate is named by its key id, so it is written once."""
    aggregate = Aggregate("audit", store.site, "signingkey", store.key.key_id)
    event = SigningKeyPublished(
        keyid=store.key.key_id, publickey=b64(store.key.public_raw), source=store.source
    )
    try:
        await store.append(
            aggregate, 0, [event], actor=Actor.system("keys"), idempotency_key="publish"
        )
    except ConcurrencyConflict:
        pass  # published on an earlier start


@dataclass(frozen=True)
class PublishedKey:
    keyid: str
    publickey: str
    source: str
    seq: int
    time: str


async def published_keys(nc: NATS) -> list[PublishedKey]:
    """Every key published on the AUDIT stream (all sites), in the order published."""
    found = []
    async for seq, subject, msg in iter_stored(nc, "AUDIT", KEY_SUBJECTS):
        try:
            recorded = decode(msg.data or b"", stream="AUDIT", seq=seq, subject=subject)
        except PoisonEvent:
            continue  # verification reports it as a bad event in its own right
        event = recorded.event
        if isinstance(event, SigningKeyPublished):
            found.append(
                PublishedKey(event.keyid, event.publickey, event.source, seq, recorded.time)
            )
    return found


async def load_keyring(nc: NATS) -> Keyring:
    """Every published key, read from the AUDIT stream (all sites)."""
    keyring = Keyring()
    for key in await published_keys(nc):
        keyring.add(unb64(key.publickey))
    return keyring


class PinsInvalid(ValueError):
    """The pinned-keys file cannot be trusted as it is."""


def keys_document(keys: list[PublishedKey]) -> dict[str, Any]:
    """What ``relais audit keys`` prints and ``--pinned-keys`` reads back."""
    return {"keys": [asdict(k) for k in keys]}


def load_pins(path: Path) -> Keyring:
    """A keyring of the keys in a pinned-keys file; each key id must be its key's."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        entries = document["keys"]
        keyring = Keyring()
        for entry in entries:
            kid = keyring.add(unb64(str(entry["publickey"])))
            if kid != entry.get("keyid", kid):
                raise PinsInvalid(f"{path}: key id {entry['keyid']} is not its key's ({kid})")
    except PinsInvalid:
        raise
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise PinsInvalid(f"{path}: not a pinned-keys file ({type(exc).__name__})") from None
    return keyring
