"""The public complaint desk (decision 0025): anyone may file a complaint without an account,
and later read its status with the tracking code it answered with.

The portal has no token for an anonymous visitor, so it calls intake as the desk: a token it
mints for one minute with the single role ``complaint_desk``, which intake allows only to
file a complaint and to read a complaint's status by tracking code. Calls are limited per
address and hour; the address is kept only as an HMAC under a secret beside the other keys."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.portal.read.tables import public_calls
from shared.auth import LocalIssuer

DESK_USER = "complaint-desk"
DESK_AGENCY = "public"
DESK_ROLE = "complaint_desk"
DESK_TOKEN_TTL_S = 60
WINDOW = timedelta(hours=1)
# Calls per address and hour: a family files once; a tracking code is looked up now and then.
LIMITS = {"file": 3, "follow": 30}
_CODE_CHARS = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford's base 32: no I, L, O, U
_TYPO = str.maketrans({"O": "0", "I": "1", "L": "1", "U": "V"})


@dataclass(frozen=True)
class ComplaintDesk:
    secret: bytes

    @classmethod
    def load_or_create(cls, keys_dir: Path) -> ComplaintDesk:
        path = keys_dir / "portal-public.key"
        if not path.exists():
            keys_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(os.urandom(32))
        return cls(path.read_bytes())

    def _mac(self, purpose: str, value: str) -> bytes:
        return hmac.new(self.secret, f"{purpose}|{value}".encode(), hashlib.sha256).digest()

    def address_key(self, address: str) -> str:
        return self._mac("address", address).hex()

    def tracking_code(self, form_key: str) -> str:
        """The code for the form rendering ``form_key``: 80 bits from an HMAC, so a double
        submit (the same idempotency key, the same complaint) answers with the same code."""
        raw = base64.b32encode(self._mac("tracking", form_key)[:10]).decode()
        code = "".join(_CODE_CHARS["ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".index(c)] for c in raw)
        return "-".join(code[i : i + 4] for i in range(0, 16, 4))

    async def admit(self, engine: AsyncEngine, address: str, kind: str, now: datetime) -> bool:
        """Counts this call against the address's hourly limit; False when over it."""
        key = self.address_key(address)
        async with engine.begin() as conn:
            await conn.execute(delete(public_calls).where(public_calls.c.at < now - WINDOW))
            used = (
                await conn.execute(
                    select(func.count())
                    .select_from(public_calls)
                    .where(public_calls.c.address_key == key, public_calls.c.kind == kind)
                )
            ).scalar_one()
            if used >= LIMITS[kind]:
                return False
            await conn.execute(insert(public_calls).values(address_key=key, kind=kind, at=now))
        return True


def desk_token(issuer: LocalIssuer) -> str:
    return issuer.mint(
        user=DESK_USER, agency=DESK_AGENCY, roles=[DESK_ROLE], ttl_s=DESK_TOKEN_TTL_S
    )


def normalised_code(typed: str) -> str | None:
    """A code as people type it back: any case, spaces or dashes, O for 0, I or L for 1."""
    plain = re.sub(r"[\s-]", "", typed.upper()).translate(_TYPO)
    if len(plain) != 16 or any(c not in _CODE_CHARS for c in plain):
        return None
    return "-".join(plain[i : i + 4] for i in range(0, 16, 4))
