"""Publishing this instance's public key on the AUDIT stream, and collecting everyone's."""

from __future__ import annotations

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


async def load_keyring(nc: NATS) -> Keyring:
    """Every published key, read from the AUDIT stream (all sites)."""
    keyring = Keyring()
    async for seq, subject, msg in iter_stored(nc, "AUDIT", KEY_SUBJECTS):
        try:
            recorded = decode(msg.data or b"", stream="AUDIT", seq=seq, subject=subject)
        except PoisonEvent:
            continue  # verification reports it as a bad event in its own right
        event = recorded.event
        if isinstance(event, SigningKeyPublished):
            keyring.add(unb64(event.publickey))
    return keyring
