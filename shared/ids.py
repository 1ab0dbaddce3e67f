"""Identifiers: time-ordered UUIDv7 for new things, name-based UUIDs where a retry must
produce the same id (idempotency keys, policy firings)."""

from __future__ import annotations

import hashlib
import os
import time
import uuid

_NAMESPACE = uuid.UUID("9b0c1f0e-5a55-4c1e-9d8e-72656c616973")  # fixed: ids must be stable forever
_NAMESPACE_BYTES = _NAMESPACE.bytes


def uuid7() -> uuid.UUID:
    """RFC 9562 version 7: 48-bit Unix milliseconds, then randomness; sorts by creation time."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= ((rand >> 62) & 0xFFF) << 64
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    return uuid.UUID(int=value)


def new_id() -> str:
    return str(uuid7())


def derived_id(*parts: str) -> str:
    """The same parts always give the same id (RFC 9562 version 5): ``uuid.uuid5``'s, written
    without its ``UUID`` object (every appended event derives one)."""
    name = "\x1f".join(parts).encode()
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + name, usedforsecurity=False).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 9562 variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
