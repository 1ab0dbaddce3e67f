"""What every request handler needs: the portal's parts, and who is signed in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncEngine

from services.portal.app.api import Services
from services.portal.app.sessions import Session
from services.portal.config import PortalConfig
from shared.auth import LocalIssuer, TokenVerifier
from shared.service import Runtime

if TYPE_CHECKING:
    from services.portal.app.accounts import AccountBook
    from services.portal.app.complaint_desk import ComplaintDesk
    from services.portal.app.oidc import OidcClient


@dataclass
class Portal:
    config: PortalConfig
    runtime: Runtime
    services: Services
    issuer: LocalIssuer | None = None  # local accounts: mints the users' service tokens
    verifier: TokenVerifier | None = None  # identity provider: reads its access tokens
    oidc: OidcClient | None = None
    book: AccountBook | None = None
    desk: ComplaintDesk | None = None  # the public complaint desk (decision 0025)
    desk_issuer: LocalIssuer | None = None

    @property
    def engine(self) -> AsyncEngine:
        assert self.runtime.engine is not None
        return self.runtime.engine

    @property
    def accounts(self) -> AccountBook:
        assert self.book is not None
        return self.book


def portal_of(request: Request) -> Portal:
    portal: Portal = request.app.state.portal
    return portal


@dataclass(frozen=True)
class Viewer:
    """The signed-in person, as the services will see them."""

    session: Session
    user: str
    email: str
    name: str
    agency: str
    unit: str | None
    roles: frozenset[str]
    token: str
    language: str
    local: bool = True

    def has(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))

    @property
    def csrf(self) -> str:
        return self.session.csrf
