"""Production sign-in: OpenID Connect, authorization code with PKCE (Authlib), against the
identity provider the services trust. The provider's access token is what the portal calls
the services with; the portal reads who the person is from it with the same checks the
services make, and checks the ID token (signature, issuer, audience, nonce) itself."""

from __future__ import annotations

import logging
import secrets
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt

from services.portal.config import OidcConfig
from shared.auth import TokenVerifier
from shared.config import Settings

with warnings.catch_warnings():
    # Authlib asks for its httpx2 package where it finds httpx: the project's HTTP client is
    # httpx, which Authlib still supports.
    warnings.simplefilter("ignore", DeprecationWarning)
    from authlib.integrations.httpx_client import AsyncOAuth2Client

log = logging.getLogger(__name__)


class OidcError(Exception):
    """The provider's answer could not be trusted or used (never shows its content)."""


@dataclass(frozen=True)
class Started:
    url: str
    state: str
    code_verifier: str
    nonce: str


@dataclass(frozen=True)
class Tokens:
    access_token: str
    refresh_token: str | None
    expires_at: datetime | None
    id_claims: dict[str, Any]


class OidcClient:
    def __init__(self, config: OidcConfig, redirect_uri: str) -> None:
        self.config = config
        self.redirect_uri = redirect_uri
        self._metadata: dict[str, Any] | None = None
        self._http = httpx.AsyncClient(timeout=10)

    async def close(self) -> None:
        await self._http.aclose()

    async def metadata(self) -> dict[str, Any]:
        if self._metadata is None:
            url = f"{self.config.issuer}/.well-known/openid-configuration"
            answer = await self._http.get(url)
            answer.raise_for_status()
            found: dict[str, Any] = answer.json()
            if found.get("issuer", "").rstrip("/") != self.config.issuer:
                raise OidcError("the discovery document names another issuer")
            self._metadata = found
        return self._metadata

    async def verifier(self, settings: Settings) -> TokenVerifier:
        """The access tokens' verifier: the services' settings, else the provider's keys."""
        jwks_url = settings.jwks_url or str((await self.metadata())["jwks_uri"])
        return TokenVerifier(
            jwks_url=jwks_url,
            issuer=settings.jwt_issuer or None,
            audience=settings.jwt_audience or None,
        )

    def _client(self, **kwargs: Any) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            client_id=self.config.client_id,
            client_secret=self.config.client_secret or None,
            scope=self.config.scopes,
            redirect_uri=self.redirect_uri,
            code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_basic"
            if self.config.client_secret
            else "none",
            timeout=10,
            **kwargs,
        )

    async def start(self) -> Started:
        meta = await self.metadata()
        verifier = secrets.token_urlsafe(48)
        nonce = secrets.token_urlsafe(24)
        state = secrets.token_urlsafe(24)
        async with self._client() as client:
            url, _ = client.create_authorization_url(
                meta["authorization_endpoint"], state=state, code_verifier=verifier, nonce=nonce
            )
        return Started(str(url), state, verifier, nonce)

    async def finish(self, code: str, code_verifier: str, nonce: str) -> Tokens:
        meta = await self.metadata()
        async with self._client() as client:
            token = await client.fetch_token(
                meta["token_endpoint"],
                grant_type="authorization_code",
                code=code,
                code_verifier=code_verifier,
            )
        claims = await self._id_claims(str(token.get("id_token") or ""), nonce)
        return self._tokens(dict(token), claims)

    async def refresh(self, refresh_token: str) -> Tokens:
        meta = await self.metadata()
        async with self._client() as client:
            token = await client.refresh_token(meta["token_endpoint"], refresh_token=refresh_token)
        return self._tokens(dict(token), {})

    def _tokens(self, token: dict[str, Any], claims: dict[str, Any]) -> Tokens:
        access = token.get("access_token")
        if not isinstance(access, str) or not access:
            raise OidcError("no access token")
        expires_in = token.get("expires_in")
        expires = (
            datetime.now(UTC) + timedelta(seconds=int(expires_in))
            if isinstance(expires_in, int | float | str) and str(expires_in).isdigit()
            else None
        )
        refresh = token.get("refresh_token")
        return Tokens(access, refresh if isinstance(refresh, str) else None, expires, claims)

    async def _id_claims(self, id_token: str, nonce: str) -> dict[str, Any]:
        if not id_token:
            raise OidcError("no ID token")
        meta = await self.metadata()
        keys = await self._http.get(str(meta["jwks_uri"]))
        keys.raise_for_status()
        try:
            header = jwt.get_unverified_header(id_token)
            key = jwt.PyJWKSet.from_dict(keys.json())[str(header.get("kid"))].key
            claims: dict[str, Any] = jwt.decode(
                id_token,
                key,
                algorithms=["RS256", "EdDSA", "ES256", "PS256"],
                audience=self.config.client_id,
                issuer=str(meta.get("issuer")),
                options={"require": ["exp", "iat", "sub"]},
                leeway=30,
            )
        except (jwt.PyJWTError, KeyError) as exc:
            raise OidcError(f"ID token refused ({type(exc).__name__})") from None
        if claims.get("nonce") != nonce:
            raise OidcError("ID token nonce does not match")
        return claims
