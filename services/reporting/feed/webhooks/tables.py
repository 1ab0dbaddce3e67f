"""Webhook deliveries in reporting's own database: one row per public event of an integrator
(copied from its subjects in PUBLIC), its state and attempts; and how far the copy went.

These tables belong to no projection: a projection's rebuild drops its tables, and delivery
state must survive it (decision 0014)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
)

metadata = MetaData()

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"

deliveries = Table(
    "webhook_delivery",
    metadata,
    Column("integrator", String(32), primary_key=True),
    Column("position", BigInteger, primary_key=True, doc="Sequence of the event in PUBLIC"),
    Column("message_id", String(64), nullable=False),
    Column("aggregate", String(80), nullable=False, doc="The public subject (a pseudonym)"),
    Column("event_type", String(200), nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("first_attempt_at", DateTime(timezone=True)),
    Column("last_attempt_at", DateTime(timezone=True)),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("delivered_at", DateTime(timezone=True)),
    # "HTTP 503", "timeout", ...: never the endpoint's answer itself.
    Column("last_error", String(200)),
    Index("webhook_delivery_heads", "integrator", "status", "aggregate", "position"),
)

cursors = Table(
    "webhook_cursor",
    metadata,
    Column("integrator", String(32), primary_key=True),
    Column("last_position", BigInteger, nullable=False),
)
