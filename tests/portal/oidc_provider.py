"""A minimal OpenID Connect provider for tests, on loopback: discovery, authorize (it signs in
one configured person at once), token (authorization code with PKCE S256, and refresh) and
JWKS. Strict where the portal must be right: the client's secret, the redirect URI, the PKCE
verifier, one use per code."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

CLIENT_ID, CLIENT_SECRET = "relais-portal", "a-client-secret"


@dataclass
class Provider:
    issuer: str
    person: dict[str, Any]
    expires_in: int = 300
    key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    refreshes: int = 0
    exchanges: int = 0

    def _sign(self, claims: dict[str, Any]) -> str:
        now = int(time.time())
        return jwt.encode(
            {"iss": self.issuer, "iat": now, **claims},
            self.key,
            algorithm="RS256",
            headers={"kid": "test-key"},
        )

    def _access(self) -> dict[str, Any]:
        access = self._sign(
            {
                "sub": self.person["sub"],
                "agency": self.person["agency"],
                "roles": self.person["roles"],
                "exp": int(time.time()) + self.expires_in,
            }
        )
        return {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "refresh_token": secrets.token_urlsafe(16),
        }

    async def discovery(self, request: Request) -> Response:
        return JSONResponse(
            {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "jwks_uri": f"{self.issuer}/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"],
            }
        )

    async def jwks(self, request: Request) -> Response:
        public = jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        public.update({"kid": "test-key", "alg": "RS256", "use": "sig"})
        return JSONResponse({"keys": [public]})

    async def authorize(self, request: Request) -> Response:
        q = request.query_params
        if (
            q.get("client_id") != CLIENT_ID
            or q.get("response_type") != "code"
            or q.get("code_challenge_method") != "S256"
            or not q.get("code_challenge")
            or "openid" not in (q.get("scope") or "").split()
        ):
            return JSONResponse({"error": "invalid_request"}, status_code=400)
        code = secrets.token_urlsafe(16)
        self.codes[code] = {
            "challenge": q["code_challenge"],
            "redirect_uri": q.get("redirect_uri"),
            "nonce": q.get("nonce"),
        }
        query = urlencode({"code": code, "state": q.get("state", "")})
        return RedirectResponse(f"{q.get('redirect_uri')}?{query}", status_code=302)

    async def token(self, request: Request) -> Response:
        form = await request.form()
        basic = request.headers.get("authorization", "")
        expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if basic != f"Basic {expected}":
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        if form.get("grant_type") == "refresh_token":
            self.refreshes += 1
            return JSONResponse(self._access())
        granted = self.codes.pop(str(form.get("code")), None)  # one use per code
        verifier = str(form.get("code_verifier") or "")
        digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        if (
            granted is None
            or form.get("grant_type") != "authorization_code"
            or form.get("redirect_uri") != granted["redirect_uri"]
            or digest.rstrip(b"=").decode() != granted["challenge"]
        ):
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        self.exchanges += 1
        id_token = self._sign(
            {
                "sub": self.person["sub"],
                "aud": CLIENT_ID,
                "nonce": granted["nonce"],
                "name": self.person["name"],
                "exp": int(time.time()) + 300,
            }
        )
        return JSONResponse({**self._access(), "id_token": id_token})

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/.well-known/openid-configuration", self.discovery),
                Route("/jwks", self.jwks),
                Route("/authorize", self.authorize),
                Route("/token", self.token, methods=["POST"]),
            ]
        )
