"""Events of the AUDIT stream, which every service may write: signing keys and access records."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from shared.events import DomainEvent, event_type, upcaster


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


@event_type(
    context="audit",
    aggregate="access",
    version=2,
    en="Someone read a record that identifies a child, or asked for one they may not see and "
    "was answered that it does not exist (outcome refused).",
    fr="Quelqu'un a consulté un dossier qui identifie un enfant, ou en a demandé un qu'il ne "
    "peut pas voir et s'est vu répondre qu'il n'existe pas (résultat refused).",
)
class RecordAccessed(DomainEvent):
    user: str
    agency: str
    role: str
    service: str
    record_type: str = Field(description="e.g. report, child, case, referral")
    record_id: str
    purpose: str | None = Field(default=None, max_length=500)
    at: str = Field(description="When it was read (RFC 3339, UTC)")
    outcome: Literal["read", "refused"] = Field(
        default="read",
        description="read: the record was shown; refused: it exists, but the caller may not "
        "see it and was answered 404",
    )


@upcaster("audit", "RecordAccessed", 1)
def _reads_before_refusals_were_recorded(data: dict[str, Any]) -> dict[str, Any]:
    return {**data, "outcome": "read"}


@event_type(
    context="audit",
    aggregate="checkpoint",
    en="A service anchored a stream's head: its last sequence and the running hash of every "
    "message up to it.",
    fr="Un service a ancré la tête d'un flux : sa dernière séquence et le hachage cumulé de "
    "tous les messages jusqu'à elle.",
)
class StreamCheckpointed(DomainEvent):
    stream: str = Field(description="The stream anchored, e.g. INTAKE")
    seq: int = Field(ge=1, description="Its last sequence at the time")
    hash: str = Field(
        pattern=r"^[0-9a-f]{64}$",
        description="Running SHA-256 over every message 1..seq (see docs/decisions/0010)",
    )
    messages: int = Field(ge=0, description="How many messages 1..seq the stream held")
