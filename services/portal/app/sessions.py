"""Sessions: a random token in an HttpOnly cookie, only its SHA-256 in the database; an idle
and an absolute expiry; a CSRF token per session; sign-out here or everywhere."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from services.portal.domain.signin import Lifetimes
from services.portal.read.tables import sessions


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Session:
    token_hash: str
    kind: str
    account_id: str
    csrf: str
    created_at: datetime
    access_token: str | None
    refresh_token: str | None
    access_expires_at: datetime | None
    display_name: str | None


@dataclass(frozen=True)
class Found:
    """A session cookie looked up: the live session, or whether it was one that expired."""

    session: Session | None
    expired: bool = False
    account_id: str | None = None  # whose session expired


async def open_session(
    engine: AsyncEngine,
    *,
    kind: str,
    account_id: str,
    access_token: str | None = None,
    refresh_token: str | None = None,
    access_expires_at: datetime | None = None,
    display_name: str | None = None,
) -> str:
    """A new session; returns the cookie's value (shown once, never stored)."""
    token = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        await conn.execute(
            sessions.insert().values(
                token_hash=token_hash(token),
                kind=kind,
                account_id=account_id,
                csrf=secrets.token_urlsafe(32),
                created_at=now,
                last_seen_at=now,
                access_token=access_token,
                refresh_token=refresh_token,
                access_expires_at=access_expires_at,
                display_name=display_name,
            )
        )
    return token


def _session(row: Any) -> Session:
    return Session(
        row.token_hash,
        row.kind,
        row.account_id,
        row.csrf,
        row.created_at,
        row.access_token,
        row.refresh_token,
        row.access_expires_at,
        row.display_name,
    )


async def find(
    engine: AsyncEngine, token: str | None, lifetimes: Lifetimes, now: datetime | None = None
) -> Found:
    """The live session of a cookie (its last use moved to now), or what became of it."""
    if not token or len(token) > 200:
        return Found(None)
    now = now or datetime.now(UTC)
    key = token_hash(token)
    async with engine.begin() as conn:
        row = (await conn.execute(select(sessions).where(sessions.c.token_hash == key))).first()
        if row is None:
            return Found(None)
        if lifetimes.ended(row.created_at, row.last_seen_at, now):
            await conn.execute(delete(sessions).where(sessions.c.token_hash == key))
            return Found(None, expired=True, account_id=row.account_id)
        await conn.execute(
            update(sessions).where(sessions.c.token_hash == key).values(last_seen_at=now)
        )
    return Found(_session(row))


async def update_tokens(
    engine: AsyncEngine,
    key: str,
    *,
    access_token: str,
    refresh_token: str | None,
    access_expires_at: datetime | None,
) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            update(sessions)
            .where(sessions.c.token_hash == key)
            .values(
                access_token=access_token,
                refresh_token=refresh_token,
                access_expires_at=access_expires_at,
            )
        )


async def end(engine: AsyncEngine, key: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(delete(sessions).where(sessions.c.token_hash == key))


async def end_all(engine: AsyncEngine, account_id: str) -> int:
    """Sign out everywhere: every session of the account ends."""
    async with engine.begin() as conn:
        result = await conn.execute(delete(sessions).where(sessions.c.account_id == account_id))
    return int(result.rowcount or 0)


async def sweep(engine: AsyncEngine, lifetimes: Lifetimes, now: datetime | None = None) -> None:
    """Forget sessions that have expired (their cookies no longer open anything)."""
    now = now or datetime.now(UTC)
    async with engine.begin() as conn:
        await conn.execute(
            delete(sessions).where(
                or_(
                    sessions.c.last_seen_at < now - lifetimes.idle,
                    sessions.c.created_at < now - lifetimes.absolute,
                )
            )
        )
