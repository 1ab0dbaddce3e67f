"""The handlers of casework's read model for the referrals carrying out plan actions:
casework's own requests, and the referral service's answers to them. They register on the
one projection of ``tables.py``; the package imports this module.

The two streams interleave freely, so either side may create the row."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts import casework as ev
from contracts.referral import ReferralDeclined, ReferralMade, ReferralRequestRefused
from services.casework.read.tables import as_datetime, projection, referrals, touch
from shared.recorded import RecordedEvent


@projection.on("casework", "ReferralRequested")
async def _referral_requested(conn: AsyncConnection, e: RecordedEvent) -> None:
    r = e.event
    assert isinstance(r, ev.ReferralRequested)
    # Referral's answer may have been applied first (streams interleave freely): keep it.
    await conn.execute(
        insert(referrals)
        .values(
            referral_id=r.referral_id,
            case_id=e.aggregate.id,
            status="requested",
            service_kind=r.service_kind,
            to_unit=r.to_unit,
            updated_at=as_datetime(e.time),
        )
        .on_conflict_do_nothing()
    )
    await touch(conn, e)


_REFERRAL_STATUS = {
    "ReferralMade": "made",
    "ReferralAccepted": "accepted",
    "ReferralDeclined": "declined",
    "ReferralCompleted": "completed",
    "ReferralWithdrawn": "withdrawn",
    "ReferralRequestRefused": "refused",
}


async def _referral(conn: AsyncConnection, e: RecordedEvent) -> None:
    data = e.event
    status = _REFERRAL_STATUS[data.name]
    referral_id, case_id = getattr(data, "referral_id"), getattr(data, "case_id")  # noqa: B009
    values: dict[str, Any] = {"status": status, "updated_at": as_datetime(e.time)}
    if isinstance(data, ReferralMade):
        values.update(
            service_kind=data.service_kind, to_agency=data.to_agency, to_unit=data.to_unit
        )
        if data.action_id is not None:
            values["action_id"] = data.action_id
    if isinstance(data, ReferralRequestRefused):
        values.update(
            refusal_code=data.code, refusal_en=data.message_en, refusal_fr=data.message_fr
        )
    if isinstance(data, ReferralDeclined):
        values.update(decline_reason=data.reason, suggested_unit=data.suggested_unit)
    await conn.execute(
        insert(referrals)
        .values(referral_id=referral_id, case_id=case_id, **values)
        .on_conflict_do_update(index_elements=[referrals.c.referral_id], set_=values)
    )


for _name in _REFERRAL_STATUS:
    projection.on("referral", _name)(_referral)
