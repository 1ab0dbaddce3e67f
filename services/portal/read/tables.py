"""The portal's tables. ``accounts`` is a read model of the account events (disposable, rebuilt
from the log); the others hold what the log must never carry and are the portal's own:
password hashes, sessions, the sign-in throttle, sign-ins in progress with the identity
provider, and which reports each user saved (ids only: no child data)."""

from __future__ import annotations

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

from shared.generations import PUBLIC
from shared.projection import Projection

# -- projected from the log (AUDIT, aggregate ``account``) ------------------------------------
projected = MetaData()
accounts = Table(
    "portal_accounts",
    projected,
    Column("account_id", String(64), primary_key=True),
    Column("email", String(254), nullable=False, unique=True),
    Column("display_name", String(200)),
    Column("agency", String(200), nullable=False, index=True),
    Column("unit", String(200)),
    Column("roles", ARRAY(String(50)), nullable=False),
    Column("disabled", Boolean, nullable=False),
    # A set-up or reset link issued before this instant no longer works (RFC 3339 text, as
    # the envelope's time, so that links compare by the same clock).
    Column("links_valid_from", String(40), nullable=False),
    Column("password_set_at", String(40)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("version", BigInteger, nullable=False),
)
projection = Projection(name="portal.accounts", version=1, metadata=projected)

# -- the portal's own, never on the log --------------------------------------------------------
# In the ``public`` schema, which never moves: a rebuild of the read models (a new generation
# beside the live one, shared/generations.py) must not take passwords and sessions with it.
own = MetaData(schema=PUBLIC)
credentials = Table(
    "portal_credentials",
    own,
    Column("account_id", String(64), primary_key=True),
    Column("password_hash", Text, nullable=False),  # Argon2id
    Column("link_issued_at", String(40), nullable=False),  # the link it was set through
    Column("set_at", DateTime(timezone=True), nullable=False),
)
signin_attempts = Table(
    "portal_signin_attempts",
    own,
    Column("key", String(64), primary_key=True),  # SHA-256 of the normalised email
    Column("failures", Integer, nullable=False),
    Column("next_attempt_at", DateTime(timezone=True)),
    Column("locked_until", DateTime(timezone=True)),
)
sessions = Table(
    "portal_sessions",
    own,
    Column("token_hash", String(64), primary_key=True),  # SHA-256 of the cookie's value
    Column("kind", String(10), nullable=False),  # local, oidc
    Column("account_id", String(64), nullable=False, index=True),  # the token's sub for oidc
    Column("csrf", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_seen_at", DateTime(timezone=True), nullable=False),
    # Signed in with the identity provider: its tokens (the access token is what the services
    # are called with).
    Column("access_token", Text),
    Column("refresh_token", Text),
    Column("access_expires_at", DateTime(timezone=True)),
    Column("display_name", String(200)),
)
oidc_pending = Table(
    "portal_oidc_pending",
    own,
    Column("state", String(128), primary_key=True),
    Column("browser", String(64), nullable=False),  # SHA-256 of the browser's cookie
    Column("code_verifier", String(128), nullable=False),
    Column("nonce", String(128), nullable=False),
    Column("next_path", String(500), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
saved_reports = Table(
    "portal_saved_reports",
    own,
    Column("account_id", String(64), primary_key=True),
    Column("report_id", String(64), primary_key=True),
    Column("saved_at", DateTime(timezone=True), nullable=False, index=True),
)
# The public complaint desk's rate limit (decision 0025): one row per call, keyed by an HMAC of
# the caller's address (never the address itself), forgotten after the hour it counts for.
public_calls = Table(
    "portal_public_calls",
    own,
    Column("address_key", String(64), nullable=False, index=True),
    Column("kind", String(10), nullable=False),  # file, follow
    Column("at", DateTime(timezone=True), nullable=False, index=True),
)
