"""Account commands: load the account from the log, decide, append its event on AUDIT (signed
by the portal's key), and hand out set-up and reset links. Used by the portal's screens and by
``relais user add``; passwords go to the portal's database only."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from services.portal.app.links import Link, LinkSigner
from services.portal.domain import accounts as rules
from services.portal.domain.accounts import Account
from shared.envelope import Actor, Aggregate
from shared.events import DomainEvent
from shared.eventstore import AppendResult, EventStore
from shared.ids import derived_id

# ``Runtime.commit`` in the portal (which waits for the account read model), or the event
# store's ``append`` in the command line.
Commit = Callable[..., Awaitable[AppendResult]]


def account_id_for(email: str) -> str:
    """One account per email address: a second creation names the same aggregate, and the
    log's concurrency check refuses it even when two administrators race."""
    return derived_id("portal.account", rules.normalise_email(email))


@dataclass(frozen=True)
class Issued:
    """An account command that handed out a link (shown once to whoever issued it)."""

    account_id: str
    link: str
    expires_at: datetime


@dataclass
class AccountBook:
    store: EventStore
    site: str
    commit: Commit
    links: LinkSigner
    link_lifetime: timedelta
    base_url: str

    def aggregate(self, account_id: str) -> Aggregate:
        return Aggregate("audit", self.site, "account", account_id)

    async def load(self, account_id: str) -> tuple[Account, int]:
        recorded = await self.store.load(self.aggregate(account_id))
        state = rules.fold((r.event, str(r.envelope["time"])) for r in recorded)
        return state, recorded[-1].seq if recorded else 0

    async def _append(
        self,
        account_id: str,
        version: int,
        events: Sequence[DomainEvent],
        actor: Actor,
        key: str | None,
    ) -> AppendResult | None:
        if not events:
            return None
        result: AppendResult = await self.commit(
            self.aggregate(account_id), version, list(events), actor=actor, idempotency_key=key
        )
        return result

    def _link(self, account_id: str, result: AppendResult, expires: datetime) -> Issued:
        issued_at = str(result.events[0].envelope["time"])
        token = self.links.sign(Link(account_id, issued_at, expires))
        return Issued(account_id, f"{self.base_url}/setup/{token}", expires)

    def _expiry(self) -> datetime:
        return (datetime.now(UTC) + self.link_lifetime).replace(microsecond=0)

    async def create(
        self,
        *,
        email: str,
        display_name: str | None,
        agency: str,
        unit: str | None,
        roles: Sequence[str],
        actor: Actor,
        by_operator: bool = False,
        key: str | None = None,
    ) -> Issued:
        email = rules.check_email(email)
        account_id = account_id_for(email)
        state, version = await self.load(account_id)
        expires = self._expiry()
        events = rules.create(
            state,
            account_id=account_id,
            email=email,
            display_name=display_name,
            agency=agency,
            unit=unit,
            roles=roles,
            by_operator=by_operator,
            link_expires=expires,
        )
        result = await self._append(account_id, version, events, actor, key)
        assert result is not None
        created: Any = result.events[0].event
        return self._link(account_id, result, datetime.fromisoformat(created.setup_link_expires_at))

    async def change_roles(
        self,
        account_id: str,
        *,
        roles: Sequence[str],
        unit: str | None,
        admin: Actor,
        key: str | None = None,
    ) -> bool:
        state, version = await self.load(account_id)
        events = rules.change_roles(
            state, roles=roles, unit=unit, admin_agency=admin.agency, admin_id=admin.user
        )
        return await self._append(account_id, version, events, admin, key) is not None

    async def disable(
        self, account_id: str, *, reason: str | None, admin: Actor, key: str | None = None
    ) -> bool:
        state, version = await self.load(account_id)
        events = rules.disable(state, reason=reason, admin_agency=admin.agency, admin_id=admin.user)
        return await self._append(account_id, version, events, admin, key) is not None

    async def enable(self, account_id: str, *, admin: Actor, key: str | None = None) -> bool:
        state, version = await self.load(account_id)
        events = rules.enable(state, admin_agency=admin.agency)
        return await self._append(account_id, version, events, admin, key) is not None

    async def issue_reset(self, account_id: str, *, admin: Actor, key: str | None = None) -> Issued:
        state, version = await self.load(account_id)
        expires = self._expiry()
        events = rules.issue_reset(state, admin_agency=admin.agency, expires=expires)
        result = await self._append(account_id, version, events, admin, key)
        assert result is not None
        return self._link(account_id, result, expires)

    async def usable(self, link: Link) -> Account | None:
        state, _ = await self.load(link.account_id)
        return state if rules.link_usable(state, link.issued_at) else None

    async def password_chosen(self, link: Link) -> Account:
        """Record that the account's owner chose a password through ``link`` (refused if the
        link was used or replaced). The caller stores the hash once this has returned."""
        state, version = await self.load(link.account_id)
        events = rules.set_password(state, link_issued_at=link.issued_at)
        actor = Actor(user=state.account_id, agency=state.agency, role="account_owner")
        await self._append(link.account_id, version, events, actor, f"password:{link.issued_at}")
        return state
