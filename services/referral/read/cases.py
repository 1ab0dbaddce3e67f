"""What referral learns from casework's events (casework's store is never read: only its
events): which agency owns each case, so a worker can refer only their own agency's cases,
and the referrals casework asks for from case plans, waiting for the request policy.

Owners and requests are one projection on purpose: its CASEWORK projector applies a case's
events in their order, so a request is never seen before the transfer that preceded it on
the same case. The REFERRAL side only marks requests answered."""

from __future__ import annotations

import logging

from sqlalchemy import BigInteger, Column, Index, MetaData, String, Table, select, update
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from contracts.casework import CaseOpened, ReferralRequested, TransferAccepted
from contracts.referral import ReferralRequestRefused
from shared.envelope import check_token
from shared.projection import Projection
from shared.recorded import RecordedEvent

log = logging.getLogger(__name__)

metadata = MetaData()
case_owners = Table(
    "ref_case_owners",
    metadata,
    Column("case_id", String(64), primary_key=True),
    Column("child_id", String(64), nullable=False),
    Column("agency", String(200), nullable=False),
)

# Referrals casework asked for: "pending" until referral answers under the same id.
PENDING, DONE, UNUSABLE = "pending", "done", "unusable"
referral_requests = Table(
    "ref_referral_requests",
    metadata,
    Column("referral_id", String(128), primary_key=True),
    Column("case_id", String(128)),
    Column("site", String(32)),
    Column("status", String(20), nullable=False),
    Column("request", JSONB),
    Column("requested_by", JSONB),
    Column("event_id", String(64)),
    Column("correlation_id", String(64)),
    Column("seq", BigInteger),
    Column("traceparent", String(64)),  # the request's trace: the answer continues it
    Index("ix_ref_requests_status", "status", "seq"),
)

# v2: transfers change the owner; referral requests. v3: the trace of each request.
projection = Projection(name="referral.case_owners", version=3, metadata=metadata)


@projection.on("casework", "CaseOpened")
async def case_opened(conn: AsyncConnection, recorded: RecordedEvent) -> None:
    event = recorded.event
    assert isinstance(event, CaseOpened)
    await conn.execute(
        insert(case_owners)
        .values(case_id=event.case_id, child_id=event.child_id, agency=event.agency)
        .on_conflict_do_nothing()
    )


@projection.on("casework", "TransferAccepted")
async def transfer_accepted(conn: AsyncConnection, recorded: RecordedEvent) -> None:
    event = recorded.event
    assert isinstance(event, TransferAccepted)
    await conn.execute(
        update(case_owners)
        .where(case_owners.c.case_id == recorded.aggregate.id)
        .values(agency=event.to_agency)
    )


def _usable(referral_id: str) -> bool:
    # The answer goes on an aggregate named by this id: it must be a subject token.
    try:
        check_token(referral_id, "referral id")
    except ValueError:
        return False
    return len(referral_id) <= 64


@projection.on("casework", "ReferralRequested")
async def referral_requested(conn: AsyncConnection, recorded: RecordedEvent) -> None:
    event = recorded.event
    assert isinstance(event, ReferralRequested)
    usable = _usable(event.referral_id)
    if not usable:
        # Nothing can be appended under such an id; casework's own checks should prevent it.
        log.warning("referral request on case %s has an unusable id", recorded.aggregate.id)
    values = {
        "case_id": recorded.aggregate.id,
        "site": recorded.aggregate.site,
        "request": event.model_dump(mode="json"),
        "requested_by": recorded.actor.model_dump(),
        "event_id": recorded.id,
        "correlation_id": str(recorded.envelope.get("correlationid") or recorded.id),
        "seq": recorded.seq,
        "traceparent": recorded.envelope.get("traceparent"),
    }
    await conn.execute(
        insert(referral_requests)
        .values(referral_id=event.referral_id, status=PENDING if usable else UNUSABLE, **values)
        # Streams interleave in any order: an answer seen first keeps the row answered.
        .on_conflict_do_update(index_elements=["referral_id"], set_=values)
    )


@projection.on("referral", "ReferralMade")
async def referral_made(conn: AsyncConnection, recorded: RecordedEvent) -> None:
    # Most referrals come from the API and were never requested: no row to add for them.
    referral_id = getattr(recorded.event, "referral_id", "")
    await conn.execute(
        update(referral_requests)
        .where(referral_requests.c.referral_id == referral_id)
        .values(status=DONE)
    )


@projection.on("referral", "ReferralRequestRefused")
async def request_refused(conn: AsyncConnection, recorded: RecordedEvent) -> None:
    event = recorded.event
    assert isinstance(event, ReferralRequestRefused)
    await conn.execute(
        insert(referral_requests)
        .values(referral_id=event.referral_id, case_id=event.case_id, status=DONE)
        .on_conflict_do_update(index_elements=["referral_id"], set_={"status": DONE})
    )


async def case_owner(engine: AsyncEngine, case_id: str) -> tuple[str, str] | None:
    """(agency, child_id) of a case casework has opened, or None if not (yet) known here."""
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                select(case_owners.c.agency, case_owners.c.child_id).where(
                    case_owners.c.case_id == case_id
                )
            )
        ).first()
    return (row.agency, row.child_id) if row else None
