"""Events of the AUDIT stream, which every service may write: signing keys and access records."""

from __future__ import annotations

from pydantic import Field

from shared.events import DomainEvent, event_type


@event_type(
    context="audit",
    aggregate="signingkey",
    en="An instance published the public key that verifies the events it signs.",
    fr="Une instance a publié la clé publique qui vérifie les événements qu'elle signe.",
)
class SigningKeyPublished(DomainEvent):
    keyid: str = Field(min_length=8, max_length=64)
    publickey: str = Field(description="Ed25519 public key, raw 32 bytes, base64")
    source: str = Field(description="The instance that signs with it")
