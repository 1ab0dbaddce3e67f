"""The portal's settings as its parts use them, read from :class:`shared.config.Settings`
(environment variables, checked at start-up)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import ZoneInfo

from services.portal.domain.signin import Lifetimes, Throttle
from shared.config import SERVICES, Settings


@dataclass(frozen=True)
class OidcConfig:
    issuer: str
    client_id: str
    client_secret: str
    scopes: str


@dataclass(frozen=True)
class PortalConfig:
    base_url: str
    service_urls: dict[str, str]
    service_timeout_s: float
    lifetimes: Lifetimes
    throttle: Throttle
    link_lifetime: timedelta
    secure_cookies: str  # auto, always, never
    time_zone: ZoneInfo
    oidc: OidcConfig | None

    @classmethod
    def from_settings(cls, s: Settings) -> PortalConfig:
        oidc = None
        if s.oidc_issuer:
            if not s.oidc_client_id:
                raise ValueError("RELAIS_OIDC_ISSUER is set: set RELAIS_OIDC_CLIENT_ID as well")
            oidc = OidcConfig(
                s.oidc_issuer.rstrip("/"), s.oidc_client_id, s.oidc_client_secret, s.oidc_scopes
            )
        return cls(
            base_url=s.public_portal_url,
            service_urls={name: s.service_url(name) for name in SERVICES},
            service_timeout_s=s.portal_service_timeout_s,
            lifetimes=Lifetimes(
                idle=timedelta(minutes=s.portal_session_idle_minutes),
                absolute=timedelta(hours=s.portal_session_hours),
            ),
            throttle=Throttle(
                s.portal_lockout_after,
                timedelta(minutes=s.portal_lockout_minutes),
                s.portal_backoff_seconds,
            ),
            link_lifetime=timedelta(hours=s.portal_setup_link_hours),
            secure_cookies=s.portal_secure_cookies,
            time_zone=ZoneInfo(s.time_zone),
            oidc=oidc,
        )
