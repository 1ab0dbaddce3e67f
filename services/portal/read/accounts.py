"""The account read model: what the account events do to ``portal_accounts``, and the
queries the portal asks of it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from contracts import portal as ev
from services.portal.domain.accounts import Account
from services.portal.read.tables import accounts, projection
from shared.recorded import RecordedEvent


async def _touch(conn: AsyncConnection, e: RecordedEvent, **values: Any) -> None:
    await conn.execute(
        update(accounts)
        .where(accounts.c.account_id == e.aggregate.id)
        .values(version=e.seq, **values)
    )


@projection.on("audit", "AccountCreated")
async def _created(conn: AsyncConnection, e: RecordedEvent) -> None:
    c = e.event
    assert isinstance(c, ev.AccountCreated)
    await conn.execute(
        insert(accounts)
        .values(
            account_id=c.account_id,
            email=c.email,
            display_name=c.display_name,
            agency=c.agency,
            unit=c.unit,
            roles=c.roles,
            disabled=False,
            links_valid_from=e.time,
            created_at=datetime.fromisoformat(e.time),
            version=e.seq,
        )
        .on_conflict_do_nothing()
    )


@projection.on("audit", "AccountRolesChanged")
async def _roles(conn: AsyncConnection, e: RecordedEvent) -> None:
    c = e.event
    assert isinstance(c, ev.AccountRolesChanged)
    await _touch(conn, e, roles=c.roles, unit=c.unit)


@projection.on("audit", "AccountDisabled")
async def _disabled(conn: AsyncConnection, e: RecordedEvent) -> None:
    await _touch(conn, e, disabled=True)


@projection.on("audit", "AccountEnabled")
async def _enabled(conn: AsyncConnection, e: RecordedEvent) -> None:
    await _touch(conn, e, disabled=False)


@projection.on("audit", "PasswordResetIssued")
async def _reset(conn: AsyncConnection, e: RecordedEvent) -> None:
    await _touch(conn, e, links_valid_from=e.time)


@projection.on("audit", "PasswordSet")
async def _password(conn: AsyncConnection, e: RecordedEvent) -> None:
    await _touch(conn, e, password_set_at=e.time)


def as_account(row: Any) -> Account:
    return Account(
        exists=True,
        account_id=row.account_id,
        email=row.email,
        display_name=row.display_name,
        agency=row.agency,
        unit=row.unit,
        roles=tuple(row.roles),
        disabled=row.disabled,
        links_valid_from=row.links_valid_from,
        password_set_at=row.password_set_at or "",
    )


async def by_id(engine: AsyncEngine, account_id: str) -> Any | None:
    async with engine.connect() as conn:
        return (
            await conn.execute(select(accounts).where(accounts.c.account_id == account_id))
        ).first()


async def by_email(engine: AsyncEngine, email: str) -> Any | None:
    async with engine.connect() as conn:
        return (await conn.execute(select(accounts).where(accounts.c.email == email))).first()


async def of_agency(engine: AsyncEngine, agency: str) -> list[Any]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(accounts).where(accounts.c.agency == agency).order_by(accounts.c.email)
        )
        return list(rows)


async def names_of(engine: AsyncEngine, agency: str) -> dict[str, str]:
    """account id -> how to show the person (name, else email), for one agency."""
    return {r.account_id: r.display_name or r.email for r in await of_agency(engine, agency)}
