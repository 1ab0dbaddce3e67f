"""The CloudEvents 1.0 envelope (structured JSON) every event travels and is stored in.

Events name the canonical form they were signed in (the ``canonicalization`` extension
attribute), so that anyone can check the signature and recompute the hash chain from the log
alone, in any language (docs/auditing.md):

* ``canonicalization: "rfc8785"``: the JSON Canonicalization Scheme (RFC 8785, JCS). The
  stored bytes are the JCS of the whole envelope, and ``signature`` is Ed25519 over the JCS of
  the envelope without ``signature`` (the attribute itself is signed, so it cannot be changed
  to another form). Every event appended since it was introduced says so.
* no such attribute: the form events were stored in before (Python's sorted keys, no spaces,
  UTF-8 unescaped; ``1.0`` stays ``1.0``), kept so those events verify as they are: stored
  events are never rewritten.

``prevhash`` is the SHA-256 of the previous event of the same aggregate, *as stored*: the
bytes in the log, hashed as they are, whatever their form.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
import rfc8785
from pydantic import BaseModel, ConfigDict, Field

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"
GENESIS = ""  # prevhash of an aggregate's first event
# The extension attribute naming the canonical form of an event, and the value new events get.
CANONICALIZATION = "canonicalization"
JCS = "rfc8785"


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
    """The form events were stored and signed in before RFC 8785 (no ``canonicalization``
    attribute); still the form of values that are not signed envelopes."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def jcs(value: Any) -> bytes:
    """RFC 8785: what any JCS library in any language produces for the same JSON value."""
    if _same_in_json_module(value):
        try:
            return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
        except orjson.JSONEncodeError:  # a lone surrogate: let the library refuse it
            pass
    return rfc8785.dumps(value)


# For values without floats, with integers JSON numbers hold exactly and with ASCII keys,
# the compact, sorted, unescaped form of the standard library and of orjson *is* RFC 8785:
# the same escapes (the two characters and the control characters, ``\u00xx`` in lower
# case), keys in the same order (code points and UTF-16 units agree on ASCII), the same
# integers. orjson writes it in Rust, fifteen times faster than the standard library's C
# encoder; the ``rfc8785`` package writes token by token in Python, and sealing and
# verifying an event cost more than its signature. Anything else goes to the library.
_SAFE_INT = 2**53 - 1


def _same_in_json_module(value: Any) -> bool:
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return True
    if kind is int:
        return bool(-_SAFE_INT <= value <= _SAFE_INT)
    if kind is dict:
        return all(
            type(k) is str and k.isascii() and _same_in_json_module(v) for k, v in value.items()
        )
    if kind is list or kind is tuple:
        return all(_same_in_json_module(v) for v in value)
    return False  # floats, subclasses of the JSON types, anything else


class UnknownCanonicalization(ValueError):
    """An envelope names a canonical form this version does not know."""


def envelope_bytes(envelope: dict[str, Any]) -> bytes:
    """An envelope in the canonical form it names: its stored bytes, or (without
    ``signature``) what its signature covers."""
    form = envelope.get(CANONICALIZATION)
    if form is None:
        return canonical_json(envelope)
    if form == JCS:
        return jcs(envelope)
    raise UnknownCanonicalization(f"unknown canonicalization {form!r}")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def unsigned_bytes(envelope: dict[str, Any]) -> bytes:
    """What the signature covers: every attribute but the signature itself, in the canonical
    form the envelope names."""
    return envelope_bytes({k: v for k, v in envelope.items() if k != "signature"})


def signed_envelope_bytes(envelope: dict[str, Any], sign: Callable[[bytes], str]) -> bytes:
    """Sign ``envelope`` (which has no ``signature`` yet) and return its stored bytes, with
    one canonical encoding instead of two.

    A canonical object is its members in key order joined by commas, so the members before
    and after ``signature`` are encoded once and serve both what the signature covers (them
    joined) and the stored form (the signature between them). ``envelope`` gains the
    signature."""
    if envelope.get(CANONICALIZATION) != JCS or not all(k.isascii() for k in envelope):
        envelope["signature"] = sign(unsigned_bytes(envelope))
        return envelope_bytes(envelope)
    # ASCII keys: code-point order, which is RFC 8785's UTF-16 order on them.
    before = jcs({k: v for k, v in envelope.items() if k < "signature"})[1:-1]
    after = jcs({k: v for k, v in envelope.items() if k > "signature"})[1:-1]
    signature = sign(b"{" + b",".join(p for p in (before, after) if p) + b"}")
    envelope["signature"] = signature
    member = b'"signature":' + jcs(signature)
    return b"{" + b",".join(p for p in (before, member, after) if p) + b"}"


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
    # Read for every event a projection applies; an aggregate's events come close together,
    # so a small cache finds most. Small on purpose: every entry is an object each full
    # garbage collection walks (decision 0026, throughput7).
    @functools.lru_cache(maxsize=4_096)
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
