"""One-time set-up and reset links: the account, the instant the link was issued (the time of
the event that issued it) and its expiry, signed with a secret kept beside the other keys.
Nothing of the link is stored: it works once because the account then has a password set
after it, and only the latest link works because each new one moves ``links_valid_from``."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Link:
    account_id: str
    issued_at: str
    expires_at: datetime


class LinkSigner:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    @classmethod
    def load_or_create(cls, keys_dir: Path) -> LinkSigner:
        path = keys_dir / "portal-links.key"
        if not path.exists():
            keys_dir.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:  # another process made it first
                pass
            else:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(secrets.token_bytes(32))
        return cls(path.read_bytes())

    def sign(self, link: Link) -> str:
        payload = _b64(
            json.dumps(
                {"a": link.account_id, "t": link.issued_at, "e": int(link.expires_at.timestamp())},
                separators=(",", ":"),
            ).encode()
        )
        return f"{payload}.{self._mac(payload)}"

    def read(self, token: str, now: datetime | None = None) -> Link | None:
        """The link, if the signature holds and it has not expired; None otherwise."""
        payload, _, mac = token.partition(".")
        if not payload or not hmac.compare_digest(mac, self._mac(payload)):
            return None
        try:
            data = json.loads(_unb64(payload))
            link = Link(str(data["a"]), str(data["t"]), datetime.fromtimestamp(int(data["e"]), UTC))
        except (ValueError, KeyError, TypeError):
            return None
        if (now or datetime.now(UTC)) >= link.expires_at:
            return None
        return link

    def _mac(self, payload: str) -> str:
        return _b64(hmac.new(self._secret, payload.encode(), hashlib.sha256).digest()[:24])
