"""Authentication, the permission tables and the access records."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import Depends, FastAPI
from nats.aio.client import Client as NATS
from sqlalchemy.ext.asyncio import AsyncEngine

from relais.embedded import NatsServer
from shared.access import AccessLog, Permissions, rule
from shared.auth import (
    BAD_CLAIMS,
    EXPIRED,
    INVALID,
    UNSIGNED,
    AuthError,
    LocalIssuer,
    Principal,
    Role,
    TokenVerifier,
)
from shared.eventstore import LogUnavailable
from shared.http import install_error_handlers
from shared.reading import iter_stored
from shared.recorded import decode
from tests.backbone.helpers import lab_store

pytestmark = pytest.mark.domain

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def issuer(tmp_path: Path) -> LocalIssuer:
    return LocalIssuer.load(tmp_path / "keys")


def test_a_minted_token_names_the_caller(issuer: LocalIssuer) -> None:
    token = issuer.mint(user="awa", agency="ocpm", roles=["screener", "nonsense"], unit="cotonou")
    principal = issuer.verifier().verify(token)
    assert principal == Principal(
        user="awa", agency="ocpm", roles=frozenset({Role.screener}), unit="cotonou"
    )


def test_the_key_survives_a_restart(tmp_path: Path) -> None:
    token = LocalIssuer.load(tmp_path / "keys").mint(user="u", agency="a", roles=["auditor"])
    assert LocalIssuer.load(tmp_path / "keys").verifier().verify(token).user == "u"


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda i: None, "missing_token"),
        (lambda i: "not.a.token", INVALID.code),
        (lambda i: i.mint(user="u", agency="a", roles=["auditor"], ttl_s=-120), EXPIRED.code),
        (
            lambda i: LocalIssuer.load(Path("/tmp") / f"other-{time.time_ns()}").mint(
                user="u", agency="a", roles=["auditor"]
            ),
            INVALID.code,
        ),
        (
            lambda i: jwt.encode(
                {"sub": "u", "agency": "a", "roles": ["auditor"], "exp": int(time.time()) + 60},
                None,
                algorithm="none",
            ),
            UNSIGNED.code,
        ),
        (
            lambda i: jwt.encode(
                {"sub": "u", "agency": "a", "roles": ["auditor"], "exp": int(time.time()) + 60},
                "x" * 32,
                algorithm="HS256",
                headers={"kid": i.kid},
            ),
            UNSIGNED.code,
        ),
    ],
    ids=["missing", "malformed", "expired", "wrong-key", "alg-none", "hs256-confusion"],
)
def test_bad_tokens_are_refused_with_a_reason(issuer: LocalIssuer, make, expected: str) -> None:
    with pytest.raises(AuthError) as refused:
        issuer.verifier().verify(make(issuer))
    assert refused.value.code == expected
    assert refused.value.message.fr and refused.value.message.en


def test_a_verified_token_is_remembered_for_a_minute_at_most(
    issuer: LocalIssuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A token's signature is checked once, then its caller is remembered: for a minute at
    most (a key taken out of the verifier stops working within it), never past the token's
    expiry, and a refused token is never remembered."""
    import shared.auth as auth

    verifier = issuer.verifier()
    token = issuer.mint(user="u1", agency="ocpm", roles=["hotline_operator"])
    first = verifier.verify(token)
    keys, verifier.keys = verifier.keys, {}  # the key withdrawn: only memory answers now
    assert verifier.verify(token) is first
    now = time.time()
    monkeypatch.setattr(auth.time, "time", lambda: now + auth.VERIFIED_FOR_S + 1)
    with pytest.raises(AuthError) as refused:
        verifier.verify(token)  # checked again after a minute: its key is gone
    assert refused.value.code == INVALID.code
    monkeypatch.undo()
    verifier.keys = keys
    assert verifier.verify(token) == first

    short = issuer.mint(user="u2", agency="ocpm", roles=["hotline_operator"], ttl_s=-40)
    for _ in range(2):  # expired beyond the leeway: refused every time, nothing remembered
        with pytest.raises(AuthError) as refused:
            verifier.verify(short)
        assert refused.value.code == EXPIRED.code
    assert short not in verifier._verified
    soon = issuer.mint(user="u3", agency="ocpm", roles=["hotline_operator"], ttl_s=5)
    verifier.verify(soon)
    assert verifier._verified[soon][1] <= time.time() + 5  # kept until its expiry, no longer


def test_tokens_without_agency_or_roles_are_refused(issuer: LocalIssuer) -> None:
    private = issuer.key.private
    token = jwt.encode(
        {"sub": "u", "exp": int(time.time()) + 60, "iss": "relais-local"},
        private,
        algorithm="EdDSA",
        headers={"kid": issuer.kid},
    )
    with pytest.raises(AuthError) as refused:
        issuer.verifier().verify(token)
    assert refused.value is BAD_CLAIMS


def test_rs256_tokens_from_an_identity_provider_jwks(tmp_path: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update(kid="kc-1", alg="RS256", use="sig")
    verifier = TokenVerifier.from_jwks(
        {"keys": [jwk]}, issuer="https://idp.example/realms/bj", audience="relais"
    )
    claims = {
        "sub": "k",
        "agency": "police-parakou",
        "roles": ["case_worker"],
        "iss": "https://idp.example/realms/bj",
        "aud": "relais",
        "exp": int(time.time()) + 60,
    }
    token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": "kc-1"})
    assert verifier.verify(token).agency == "police-parakou"
    with pytest.raises(AuthError):
        verifier.verify(
            jwt.encode({**claims, "aud": "other"}, key, algorithm="RS256", headers={"kid": "kc-1"})
        )


def test_read_only_roles_can_never_be_given_a_write() -> None:
    with pytest.raises(ValueError, match="never write"):
        Permissions("x", {"case.close": rule("write", "Close", "Clore", Role.auditor)})


async def test_permission_dependency_answers_401_then_403_then_allows(issuer: LocalIssuer) -> None:
    permissions = Permissions(
        "demo",
        {
            "thing.read": rule("read", "Read", "Lire", Role.case_worker, Role.auditor),
        },
    )
    app = FastAPI()
    app.state.verifier = issuer.verifier()
    install_error_handlers(app)

    may_read = Depends(permissions.require("thing.read"))

    @app.get("/thing")
    async def read(p: Principal = may_read) -> dict[str, str]:
        return {"user": p.user}

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        missing = await c.get("/thing", headers={"Accept-Language": "en"})
        assert missing.status_code == 401
        assert missing.json()["error"]["message"].startswith("Sign in first")
        statistician = issuer.mint(user="s", agency="min", roles=["statistician"])
        denied = await c.get("/thing", headers={"Authorization": f"Bearer {statistician}"})
        assert denied.status_code == 403
        assert denied.json()["error"]["message"] == "Votre rôle ne permet pas cette action."
        worker = issuer.mint(user="w", agency="ocpm", roles=["case_worker"])
        ok = await c.get("/thing", headers={"Authorization": f"Bearer {worker}"})
        assert ok.status_code == 200 and ok.json() == {"user": "w"}


def test_permission_table_renders_for_the_readme() -> None:
    table = Permissions("demo", {"a.read": rule("read", "R", "L", Role.auditor)}).markdown()
    assert "| `a.read` |" in table and "✓" in table


async def test_every_read_becomes_an_access_event_even_across_an_outage(
    engine: AsyncEngine, nc: NATS, nats_server: NatsServer | None
) -> None:
    store = await lab_store(nc)
    log = AccessLog("lab", engine, store)
    await log.prepare()
    reader = Principal(user="awa", agency="ocpm", roles=frozenset({Role.case_worker}))
    if nats_server is not None:  # NATS away: the read is still recorded, and kept
        nats_server.stop()
        await log.record(reader, "case", ["case-1", "case-2"], purpose="weekly review")
        with pytest.raises(LogUnavailable):  # nothing sent, nothing stored
            await log.publish_pending()
        assert await log.pending() == 2
        nats_server.start()
        for _ in range(100):
            if nc.is_connected:
                break
            await asyncio.sleep(0.1)
    else:
        await log.record(reader, "case", ["case-1", "case-2"], purpose="weekly review")
    assert await log.pending() == 2
    assert await log.publish_pending() == 2
    assert await log.publish_pending() == 0 and await log.pending() == 0
    events = [
        decode(m.data, stream="AUDIT", seq=seq, subject=subj).event
        async for seq, subj, m in iter_stored(nc, "AUDIT", "audit.*.access.>")
    ]
    assert [(e.record_id, e.user, e.purpose) for e in events] == [
        ("case-1", "awa", "weekly review"),
        ("case-2", "awa", "weekly review"),
    ]


def test_cli_mints_a_token_the_services_accept(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "relais.cli",
            "token",
            "--user",
            "awa",
            "--agency",
            "ocpm",
            "--role",
            "screener",
            "--role",
            "intake_officer",
            "--data-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=True,
    )
    principal = LocalIssuer.load(tmp_path / "keys").verifier().verify(done.stdout.strip())
    assert principal.roles == {Role.screener, Role.intake_officer}
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "relais.cli",
            "token",
            "--user",
            "u",
            "--agency",
            "a",
            "--role",
            "king",
            "--data-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert bad.returncode == 2 and "king" in bad.stderr
