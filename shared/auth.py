"""Who is calling: bearer JWTs (EdDSA or RS256) naming the user, agency, unit and roles.

Production trusts an identity provider's JWKS (``RELAIS_JWKS_URL``, e.g. Keycloak) or a JWKS
file (``RELAIS_JWKS_FILE``); the embedded default signs tokens with a local Ed25519 key kept in
the data directory, and ``relais token`` mints them.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared.i18n import Message
from shared.signing import SigningKey

ALGORITHMS = ["EdDSA", "RS256"]
LOCAL_ISSUER = "relais-local"


class Role(StrEnum):
    hotline_operator = "hotline_operator"
    intake_officer = "intake_officer"
    screener = "screener"
    case_worker = "case_worker"
    supervisor = "supervisor"
    unit_coordinator = "unit_coordinator"
    agency_admin = "agency_admin"
    statistician = "statistician"
    auditor = "auditor"
    oversight = "oversight"
    # Not a person: the portal's public complaint desk (decision 0025), which may only file a
    # complaint and read a complaint's status by its tracking code.
    complaint_desk = "complaint_desk"


ROLE_LABELS: dict[Role, Message] = {
    Role.hotline_operator: Message(en="Hotline operator", fr="Écoutant(e) de la ligne d'urgence"),
    Role.intake_officer: Message(en="Intake officer", fr="Agent d'accueil et d'enregistrement"),
    Role.screener: Message(en="Screener", fr="Agent de tri"),
    Role.case_worker: Message(en="Case worker", fr="Travailleur social référent"),
    Role.supervisor: Message(en="Supervisor", fr="Superviseur"),
    Role.unit_coordinator: Message(en="Unit coordinator", fr="Coordonnateur d'unité"),
    Role.agency_admin: Message(en="Agency administrator", fr="Administrateur de structure"),
    Role.statistician: Message(en="Statistician", fr="Statisticien"),
    Role.auditor: Message(en="Auditor", fr="Auditeur"),
    Role.oversight: Message(en="Oversight body", fr="Organe de contrôle"),
    Role.complaint_desk: Message(en="Public complaint desk", fr="Guichet public des plaintes"),
}


@dataclass(frozen=True)
class Principal:
    """The authenticated caller."""

    user: str
    agency: str
    roles: frozenset[Role]
    unit: str | None = None
    token_id: str | None = None

    def has(self, *roles: Role) -> bool:
        return bool(self.roles.intersection(roles))

    @property
    def primary_role(self) -> str:
        return sorted(r.value for r in self.roles)[0] if self.roles else "none"


class AuthError(Exception):
    def __init__(self, code: str, message: Message) -> None:
        super().__init__(code)
        self.code = code
        self.message = message


MISSING = AuthError(
    "missing_token",
    Message(
        en="Sign in first: this request needs a bearer token.",
        fr="Connectez-vous d'abord : cette requête exige un jeton d'accès.",
    ),
)
EXPIRED = AuthError(
    "expired_token",
    Message(
        en="Your session has expired; sign in again.",
        fr="Votre session a expiré ; reconnectez-vous.",
    ),
)
INVALID = AuthError(
    "invalid_token",
    Message(en="The access token is not valid.", fr="Le jeton d'accès n'est pas valide."),
)
UNSIGNED = AuthError(
    "invalid_token",
    Message(
        en="The access token is not signed with an accepted algorithm (EdDSA or RS256).",
        fr="Le jeton d'accès n'est pas signé avec un algorithme accepté (EdDSA ou RS256).",
    ),
)
BAD_CLAIMS = AuthError(
    "invalid_token",
    Message(
        en="The access token lacks the user, agency or roles.",
        fr="Le jeton d'accès ne précise pas l'utilisateur, la structure ou les rôles.",
    ),
)


VERIFIED_KEPT = 1024  # tokens whose signature was checked, remembered by this process
VERIFIED_FOR_S = 60.0  # and for how long at most


@dataclass
class TokenVerifier:
    """Checks signature, algorithm, expiry, issuer and audience, then reads the claims."""

    keys: dict[str, Any] = field(default_factory=dict)  # kid -> public key
    jwks_url: str | None = None
    issuer: str | None = None
    audience: str | None = None
    _verified: OrderedDict[str, tuple[Principal, float]] = field(
        default_factory=OrderedDict, init=False, repr=False, compare=False
    )

    @cached_property
    def _jwks_client(self) -> jwt.PyJWKClient | None:
        return jwt.PyJWKClient(self.jwks_url, cache_keys=True) if self.jwks_url else None

    def verify(self, token: str | None) -> Principal:
        if not token:
            raise MISSING
        now = time.time()
        known = self._verified.get(token)
        if known is not None and now < known[1]:
            self._verified.move_to_end(token)
            return known[0]
        principal, expires = self._verify(token)
        # A client sends the same token with every request until it expires: its signature
        # is checked once (4.4% of intake's CPU in a profile under load, decision 0026).
        # Kept for a minute at most: a key taken out of the JWKS stops working within it.
        self._verified[token] = (principal, min(expires, now + VERIFIED_FOR_S))
        if len(self._verified) > VERIFIED_KEPT:
            self._verified.popitem(last=False)
        return principal

    def _verify(self, token: str) -> tuple[Principal, float]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise INVALID from None
        if header.get("alg") not in ALGORITHMS:
            raise UNSIGNED
        key = self._key_for(header)
        options = {"require": ["exp", "sub"], "verify_aud": self.audience is not None}
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=ALGORITHMS,
                issuer=self.issuer,
                audience=self.audience,
                options=options,  # type: ignore[arg-type]
                leeway=30,
            )
        except jwt.ExpiredSignatureError:
            raise EXPIRED from None
        except jwt.PyJWTError:
            raise INVALID from None
        return _principal(claims), float(claims["exp"])

    def _key_for(self, header: dict[str, Any]) -> Any:
        kid = header.get("kid")
        if kid in self.keys:
            return self.keys[kid]
        if self._jwks_client is not None:
            try:
                return self._jwks_client.get_signing_key(str(kid)).key
            except jwt.PyJWTError:
                raise INVALID from None
        raise INVALID

    @classmethod
    def from_jwks(cls, jwks: dict[str, Any], **kwargs: Any) -> TokenVerifier:
        keys: dict[str, Any] = {}
        for entry in jwks.get("keys", []):
            jwk = jwt.PyJWK(entry)
            keys[str(entry.get("kid") or jwk.key_id)] = jwk.key
        return cls(keys=keys, **kwargs)


def _principal(claims: dict[str, Any]) -> Principal:
    user, agency, roles = claims.get("sub"), claims.get("agency"), claims.get("roles")
    if not isinstance(user, str) or not isinstance(agency, str) or not user or not agency:
        raise BAD_CLAIMS
    if isinstance(roles, str):
        roles = roles.split()
    if not isinstance(roles, list):
        raise BAD_CLAIMS
    known = frozenset(Role(r) for r in roles if r in Role.__members__)
    unit = claims.get("unit")
    return Principal(
        user=user,
        agency=agency,
        roles=known,
        unit=unit if isinstance(unit, str) and unit else None,
        token_id=claims.get("jti") if isinstance(claims.get("jti"), str) else None,
    )


@dataclass(frozen=True)
class LocalIssuer:
    """The embedded default's token signer (Ed25519, kept in ``keys/token-signing.pem``)."""

    key: SigningKey

    @classmethod
    def load(cls, keys_dir: Path) -> LocalIssuer:
        return cls(SigningKey.load_or_create(keys_dir / "token-signing.pem"))

    @property
    def kid(self) -> str:
        return f"local-{self.key.key_id}"

    def mint(
        self,
        *,
        user: str,
        agency: str,
        roles: list[str],
        unit: str | None = None,
        ttl_s: int = 8 * 3600,
    ) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": LOCAL_ISSUER,
            "sub": user,
            "agency": agency,
            "roles": roles,
            "iat": now,
            "exp": now + ttl_s,
        }
        if unit:
            claims["unit"] = unit
        return jwt.encode(claims, self._private(), algorithm="EdDSA", headers={"kid": self.kid})

    def _private(self) -> Ed25519PrivateKey:
        return self.key.private

    def jwks(self) -> dict[str, Any]:
        public = self.key.private.public_key()
        jwk = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(public))
        jwk.update({"kid": self.kid, "alg": "EdDSA", "use": "sig"})
        return {"keys": [jwk]}

    def verifier(self) -> TokenVerifier:
        pem = self.key.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return TokenVerifier(
            keys={self.kid: serialization.load_pem_public_key(pem)}, issuer=LOCAL_ISSUER
        )


def verifier_from_settings(
    *, jwks_url: str, jwks_file: Path | None, issuer: str, audience: str, keys_dir: Path
) -> TokenVerifier:
    """An identity provider's keys if configured; else the embedded default's local key."""
    options: dict[str, Any] = {"issuer": issuer or None, "audience": audience or None}
    if jwks_url:
        return TokenVerifier(jwks_url=jwks_url, **options)
    if jwks_file is not None:
        return TokenVerifier.from_jwks(json.loads(jwks_file.read_text()), **options)
    return LocalIssuer.load(keys_dir).verifier()
