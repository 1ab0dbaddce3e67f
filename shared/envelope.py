"""The CloudEvents 1.0 envelope (structured JSON) every event travels and is stored in.

The stored bytes are the canonical JSON of the envelope (sorted keys, no spaces, UTF-8), so
that anyone can recompute the hash chain and check the signature from the log alone:

* ``signature`` is Ed25519 over the canonical JSON of the envelope without ``signature``;
* ``prevhash`` is the SHA-256 of the previous event of the same aggregate, as stored.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"
GENESIS = ""  # prevhash of an aggregate's first event


class Actor(BaseModel):
    """Who caused an event: a person acting for an agency in a role, or a system process."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    user: str = Field(min_length=1, max_length=200)
    agency: str = Field(min_length=1, max_length=200)
    role: str = Field(min_length=1, max_length=100)

    @classmethod
    def system(cls, process: str) -> Actor:
        return cls(user=f"system:{process}", agency="relais", role="system")


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def unsigned_bytes(envelope: dict[str, Any]) -> bytes:
    """What the signature covers: every attribute but the signature itself."""
    return canonical_json({k: v for k, v in envelope.items() if k != "signature"})


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def unb64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


@dataclass(frozen=True)
class Aggregate:
    """Where an aggregate's events live: ``<context>.<site>.<type>.<id>.<EventName>``."""

    context: str
    site: str
    type: str
    id: str

    @property
    def stream(self) -> str:
        return self.context.upper()

    @property
    def subject_filter(self) -> str:
        return f"{self.context}.{self.site}.{self.type}.{self.id}.*"

    def subject(self, event_name: str) -> str:
        return f"{self.context}.{self.site}.{self.type}.{self.id}.{event_name}"

    @classmethod
    def from_subject(cls, subject: str) -> Aggregate:
        parts = subject.split(".")
        if len(parts) != 5:
            raise ValueError(f"not an event subject: {subject!r}")
        return cls(parts[0], parts[1], parts[2], parts[3])


_TOKEN_FORBIDDEN = set(". *>\t\r\n")


def check_token(value: str, what: str) -> str:
    """Subject tokens must not contain NATS separators or wildcards."""
    if not value or any(c in _TOKEN_FORBIDDEN for c in value) or len(value) > 128:
        raise ValueError(f"invalid {what}: {value!r}")
    return value
