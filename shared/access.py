"""Authorisation: one permission table per service, enforced by one FastAPI dependency, and
the record of every read of a child's data."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Literal

from fastapi import Request
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    MetaData,
    String,
    Table,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.audit_events import RecordAccessed
from shared.auth import AuthError, Principal, Role, TokenVerifier
from shared.db import create_tables
from shared.envelope import Actor, Aggregate
from shared.eventstore import ConcurrencyConflict, EventStore
from shared.http import ApiError
from shared.i18n import Message
from shared.ids import new_id
from shared.loops import repeat

log = logging.getLogger(__name__)

READ_ONLY_ROLES = frozenset({Role.auditor, Role.statistician})


@dataclass(frozen=True)
class Rule:
    roles: frozenset[Role]
    kind: Literal["read", "write"]
    description: Message


def rule(kind: Literal["read", "write"], en: str, fr: str, *roles: Role) -> Rule:
    return Rule(frozenset(roles), kind, Message(en=en, fr=fr))


FORBIDDEN = Message(
    en="Your role does not allow this action.",
    fr="Votre rôle ne permet pas cette action.",
)


class Permissions:
    """The service's whole permission table: action -> roles allowed."""

    def __init__(self, service: str, rules: Mapping[str, Rule]) -> None:
        for action, r in rules.items():
            if r.kind == "write" and r.roles & READ_ONLY_ROLES:
                raise ValueError(f"{service}.{action}: auditors and statisticians never write")
        self.service = service
        self.rules = dict(rules)

    def allows(self, action: str, principal: Principal) -> bool:
        return bool(self.rules[action].roles & principal.roles)

    def require(self, action: str) -> Callable[[Request], Awaitable[Principal]]:
        """A FastAPI dependency: authenticate the caller, then check ``action``."""
        if action not in self.rules:
            raise KeyError(f"{self.service}: no rule for {action}")

        async def dependency(request: Request) -> Principal:
            principal = authenticate(request)
            if not self.allows(action, principal):
                raise ApiError(403, "forbidden", FORBIDDEN, extra={"action": action})
            return await checked_unit(request, principal)

        dependency.__name__ = f"require_{action.replace('.', '_')}"
        # Lets tooling (the access matrix test, the README tables) map routes to actions.
        dependency.relais_action = action  # type: ignore[attr-defined]
        dependency.relais_permissions = self  # type: ignore[attr-defined]
        return dependency

    def markdown(self) -> str:
        roles = list(Role)
        head = "| action | " + " | ".join(r.value for r in roles) + " |"
        sep = "|---" * (len(roles) + 1) + "|"
        rows = [
            f"| `{a}` | " + " | ".join("✓" if r in rule_.roles else "" for r in roles) + " |"
            for a, rule_ in sorted(self.rules.items())
        ]
        return "\n".join([head, sep, *rows])


def authenticate(request: Request) -> Principal:
    verifier: TokenVerifier = request.app.state.verifier
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    try:
        if scheme.lower() != "bearer":
            return verifier.verify(None)
        return verifier.verify(token.strip())
    except AuthError as exc:
        raise ApiError(401, exc.code, exc.message, extra={"www_authenticate": "Bearer"}) from None


UNIT_NOT_IN_AGENCY = Message(
    en="Your access token names unit {unit}, which the directory does not list under your "
    "agency ({agency}).",
    fr="Votre jeton d'accès désigne l'unité {unit}, que l'annuaire ne rattache pas à votre "
    "structure ({agency}).",
)


async def checked_unit(request: Request, principal: Principal) -> Principal:
    """The principal with its unit claim checked against the service's copy of the directory
    (403 if the unit is not one of its agency's); a service without a copy drops the claim."""
    if principal.unit is None:
        return principal
    runtime = getattr(request.app.state, "runtime", None)
    lookup = getattr(getattr(runtime, "spec", None), "unit_agency", None)
    if lookup is None or runtime is None or runtime.engine is None:
        return replace(principal, unit=None)
    if await lookup(runtime.engine, principal.unit) != principal.agency:
        raise ApiError(
            403,
            "unit_not_in_agency",
            UNIT_NOT_IN_AGENCY.format(unit=principal.unit, agency=principal.agency),
            field="unit",
        )
    return principal


def sees_agency(principal: Principal, agency: str) -> bool:
    """Agency scoping: a user sees their own agency's records; auditors see everything."""
    return principal.agency == agency or principal.has(Role.auditor)


# -- access records ------------------------------------------------------------------------

# In ``public`` whatever the read models' generation (shared/generations.py): the outbox is
# not a read model, and a rebuild must never drop the reads still to be recorded.
outbox_metadata = MetaData(schema="public")
access_outbox = Table(
    "access_outbox",
    outbox_metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    # The event's aggregate id: unique for ever, unlike a sequence a restored database reuses.
    Column("key", String(36), nullable=False, unique=True),
    Column("user_id", String(200), nullable=False),
    Column("agency", String(200), nullable=False),
    Column("role", String(100), nullable=False),
    Column("record_type", String(50), nullable=False),
    Column("record_id", String(100), nullable=False),
    Column("purpose", String(500)),
    Column("read_at", DateTime(timezone=True), nullable=False),
    Column("published_at", DateTime(timezone=True), index=True),
    Column("outcome", String(10), nullable=False, server_default="read"),
)
# Added after the first deployments: an outbox created before it gains the column.
_OUTBOX_UPGRADES = (
    "ALTER TABLE access_outbox ADD COLUMN IF NOT EXISTS outcome VARCHAR(10) "
    "NOT NULL DEFAULT 'read'",
)


class AccessLog:
    """Every read of a child-identifying record becomes a ``RecordAccessed`` event on AUDIT.

    The read only inserts a row in the service's own database (an outbox), which is fast and
    survives a crash; a background relay appends the events and marks the rows, so no read
    goes unrecorded even if NATS is down at the time."""

    def __init__(self, service: str, engine: AsyncEngine, store: EventStore) -> None:
        self.service = service
        self.engine = engine
        self.store = store
        self._wake = asyncio.Event()

    async def prepare(self) -> None:
        async with self.engine.begin() as conn:
            await create_tables(conn, outbox_metadata)
            for statement in _OUTBOX_UPGRADES:
                await conn.execute(text(statement))

    async def record(
        self,
        principal: Principal,
        record_type: str,
        record_ids: list[str],
        purpose: str | None = None,
        *,
        outcome: Literal["read", "refused"] = "read",
    ) -> None:
        """Record that ``principal`` read these records (or, ``refused``, asked for one that
        exists but is not theirs to see, and was told it does not exist)."""
        if not record_ids:
            return
        now = datetime.now(UTC)
        async with self.engine.begin() as conn:
            await conn.execute(
                insert(access_outbox),
                [
                    {
                        "key": new_id(),
                        "user_id": principal.user,
                        "agency": principal.agency,
                        "role": principal.primary_role,
                        "record_type": record_type,
                        "record_id": record_id,
                        "purpose": (purpose or None) and purpose[:500],
                        "read_at": now,
                        "outcome": outcome,
                    }
                    for record_id in record_ids
                ],
            )
        self._wake.set()

    async def relay(self, poll_s: float = 1.0) -> None:
        await repeat(self._publish_all, interval_s=poll_s, label="access records", wake=self._wake)

    async def _publish_all(self) -> None:
        while await self.publish_pending():
            pass

    async def publish_pending(self, limit: int = 200) -> int:
        async with self.engine.begin() as conn:
            rows = (
                await conn.execute(
                    select(access_outbox)
                    .where(access_outbox.c.published_at.is_(None))
                    .order_by(access_outbox.c.id)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            for row in rows:
                event = RecordAccessed(
                    user=row.user_id,
                    agency=row.agency,
                    role=row.role,
                    service=self.service,
                    record_type=row.record_type,
                    record_id=row.record_id,
                    purpose=row.purpose,
                    at=row.read_at.isoformat().replace("+00:00", "Z"),
                    outcome=row.outcome,
                )
                aggregate = Aggregate("audit", self.store.site, "access", row.key)
                try:
                    await self.store.append(
                        aggregate,
                        0,
                        [event],
                        actor=Actor(user=row.user_id, agency=row.agency, role=row.role),
                        idempotency_key=row.key,
                    )
                except ConcurrencyConflict:
                    pass  # appended before a crash, not yet marked: nothing to add
                await conn.execute(
                    update(access_outbox)
                    .where(access_outbox.c.id == row.id)
                    .values(published_at=datetime.now(UTC))
                )
        return len(rows)

    async def pending(self) -> int:
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(access_outbox.c.id).where(access_outbox.c.published_at.is_(None))
            )
            return len(rows.all())
