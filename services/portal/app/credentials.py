"""Passwords (Argon2id, in the portal's database only, never logged) and the sign-in
throttle kept per email address."""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from services.portal.domain.signin import Attempts, Throttle, Verdict, after_failure, may_try
from services.portal.read.tables import credentials, signin_attempts

HASHER = PasswordHasher()  # Argon2id, the library's current recommended parameters
# Verified against when the address has no account, so both answers take as long.
_DUMMY = HASHER.hash("not a password of anyone")


def email_key(email: str) -> str:
    return hashlib.sha256(email.encode()).hexdigest()


@dataclass(frozen=True)
class SignIn:
    """The outcome of a sign-in attempt: the account, or why not."""

    account_id: str | None
    verdict: Verdict


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(HASHER.hash, password)


async def store_password(
    engine: AsyncEngine, account_id: str, password_hash: str, link_issued_at: str
) -> None:
    values = {
        "password_hash": password_hash,
        "link_issued_at": link_issued_at,
        "set_at": datetime.now(UTC),
    }
    async with engine.begin() as conn:
        await conn.execute(
            insert(credentials)
            .values(account_id=account_id, **values)
            .on_conflict_do_update(index_elements=[credentials.c.account_id], set_=values)
        )


async def password_set_through(engine: AsyncEngine, account_id: str) -> str | None:
    """The issue time of the link the stored password was set through, if any."""
    async with engine.connect() as conn:
        return (
            await conn.execute(
                select(credentials.c.link_issued_at).where(credentials.c.account_id == account_id)
            )
        ).scalar()


async def _verify(stored: str | None, password: str) -> bool:
    def check() -> bool:
        try:
            return HASHER.verify(stored or _DUMMY, password) and stored is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(check)


async def attempt(
    engine: AsyncEngine,
    *,
    email: str,
    account_id: str | None,
    password: str,
    rules: Throttle,
    now: datetime | None = None,
) -> SignIn:
    """Check the password of ``account_id`` (None: no usable account has this address),
    counting failures per address; a locked or waiting address is refused before any check."""
    now = now or datetime.now(UTC)
    key = email_key(email)
    async with engine.begin() as conn:
        row = (
            await conn.execute(
                select(signin_attempts).where(signin_attempts.c.key == key).with_for_update()
            )
        ).first()
        before = (
            Attempts(row.failures, row.next_attempt_at, row.locked_until) if row else Attempts()
        )
        verdict = may_try(before, now)
        if not verdict.allowed:
            return SignIn(None, verdict)
        stored = None
        if account_id is not None:
            stored = (
                await conn.execute(
                    select(credentials.c.password_hash).where(
                        credentials.c.account_id == account_id
                    )
                )
            ).scalar()
        good = await _verify(stored, password)
        after = Attempts() if good else after_failure(before, now, rules)
        values = {
            "failures": after.failures,
            "next_attempt_at": after.next_attempt_at,
            "locked_until": after.locked_until,
        }
        await conn.execute(
            insert(signin_attempts)
            .values(key=key, **values)
            .on_conflict_do_update(index_elements=[signin_attempts.c.key], set_=values)
        )
        if good:
            return SignIn(account_id, Verdict(True))
        return SignIn(None, may_try(after, now) if after.locked_until else Verdict(True))
