"""Webhook rules: Standard Webhooks signatures (https://www.standardwebhooks.com), whose
``webhook-signature`` is ``v1,`` and the base64 HMAC-SHA256, keyed with the secret's bytes,
of ``<webhook-id>.<webhook-timestamp>.<body>``; and when a failed delivery is tried again."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import timedelta

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret


def secret_bytes(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_bytes(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(secret: str, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(secret, message_id, timestamp, body),
        "content-type": "application/json",
    }


@dataclass(frozen=True)
class Retry:
    """A failed delivery waits ``first_s``, doubling each time up to ``max_s``; after
    ``give_up_after`` of failures it is listed as failed."""

    first_s: float
    max_s: float
    give_up_after: timedelta

    def delay(self, attempts: int) -> timedelta:
        return timedelta(seconds=min(self.first_s * 2 ** max(0, attempts - 1), self.max_s))
