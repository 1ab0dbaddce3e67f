"""What REFERRAL's events do to the facts: each referral's moments, the service a completed
referral stands for, and the directory (agencies, units, staff, competencies, trainings)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts import referral as ref_ev
from services.reporting.read.facts.tables import (
    agencies,
    assessments,
    projection,
    referrals,
    services,
    staff,
    trainings,
    units,
    upsert,
)
from services.reporting.read.facts.values import day_of, event_time
from shared.recorded import RecordedEvent


@projection.on("referral", "ReferralMade")
async def referral_made(conn: AsyncConnection, recorded: RecordedEvent) -> None:
    e = recorded.event
    assert isinstance(e, ref_ev.ReferralMade)
    await conn.execute(
        upsert(
            referrals,
            {
                "referral_id": e.referral_id,
                "case_id": e.case_id,
                "child_id": e.child_id,
                "from_agency": e.from_agency,
                "to_agency": e.to_agency,
                "to_unit": e.to_unit,
                "service_kind": e.service_kind,
                "urgency": e.urgency,
                "made_at": event_time(recorded),
                "accepted_at": None,
                "declined_at": None,
                "completed_at": None,
                "withdrawn_at": None,
                "overdue_at": None,
            },
            ["referral_id"],
        )
    )


async def _referral_moment(
    conn: AsyncConnection, recorded: RecordedEvent, referral_id: str, column: str
) -> None:
    await conn.execute(
        update(referrals)
        .where(referrals.c.referral_id == referral_id)
        .where(referrals.c[column].is_(None))
        .values({column: event_time(recorded)})
    )


Moment = (
    ref_ev.ReferralAccepted
    | ref_ev.ReferralDeclined
    | ref_ev.ReferralWithdrawn
    | ref_ev.ReferralOverdue
)
# The moments that only stamp a time on the referral's row: the first one counts.
MOMENTS: dict[type[Moment], str] = {
    ref_ev.ReferralAccepted: "accepted_at",
    ref_ev.ReferralDeclined: "declined_at",
    ref_ev.ReferralWithdrawn: "withdrawn_at",
    ref_ev.ReferralOverdue: "overdue_at",
}


def _moment_handler(
    kind: type[Moment], column: str
) -> Callable[[AsyncConnection, RecordedEvent], Awaitable[None]]:
    async def handle(conn: AsyncConnection, recorded: RecordedEvent) -> None:
        e = recorded.event
        assert isinstance(e, kind)
        await _referral_moment(conn, recorded, e.referral_id, column)

    return handle


for _kind, _column in MOMENTS.items():
    projection.on("referral", _kind.__name__)(_moment_handler(_kind, _column))


@projection.on("referral", "ReferralCompleted")
async def referral_completed(conn: AsyncConnection, recorded: RecordedEvent) -> None:
    e = recorded.event
    assert isinstance(e, ref_ev.ReferralCompleted)
    await _referral_moment(conn, recorded, e.referral_id, "completed_at")
    # ReferralMade is earlier on the same stream, so its row is here.
    made = (
        await conn.execute(select(referrals).where(referrals.c.referral_id == e.referral_id))
    ).first()
    if made is None:
        return
    # Kept only if the case has not recorded this service itself (see
    # casework_handlers.service_delivered).
    await conn.execute(
        insert(services)
        .values(
            service_key=f"referral:{e.referral_id}",
            child_id=made.child_id,
            case_id=made.case_id,
            service_kind=made.service_kind,
            agency=made.to_agency,
            unit=made.to_unit,
            delivered_on=None,
            delivered_at=event_time(recorded),
        )
        .on_conflict_do_nothing()
    )


@projection.on("referral", "AgencyRegistered")
async def agency_registered(conn: AsyncConnection, recorded: RecordedEvent) -> None:
    e = recorded.event
    assert isinstance(e, ref_ev.AgencyRegistered)
    row = {"agency_id": e.agency_id, "name": e.agency_name, "type": e.type, "commune": e.commune}
    await conn.execute(upsert(agencies, row, ["agency_id"]))


@projection.on("referral", "UnitDescribed")
async def unit_described(conn: AsyncConnection, recorded: RecordedEvent) -> None:
    e = recorded.event
    assert isinstance(e, ref_ev.UnitDescribed)
    row = {
        "unit_id": e.unit_id,
        "agency_id": e.agency_id,
        "name": e.unit_name,
        "commune": e.commune,
        "service_kinds": sorted(set(e.service_kinds)),
        "expected_services": sorted(set(e.expected_services)),
        "hub_id": e.hub_id,
    }
    await conn.execute(upsert(units, row, ["unit_id"]))


@projection.on("referral", "StaffMemberRegistered")
async def staff_registered(conn: AsyncConnection, recorded: RecordedEvent) -> None:
    e = recorded.event
    assert isinstance(e, ref_ev.StaffMemberRegistered)
    row = {"staff_id": e.staff_id, "agency": e.agency, "unit": e.unit, "sector": e.sector}
    await conn.execute(upsert(staff, row, ["staff_id"]))


@projection.on("referral", "CompetencyAssessed")
async def competency_assessed(conn: AsyncConnection, recorded: RecordedEvent) -> None:
    e = recorded.event
    assert isinstance(e, ref_ev.CompetencyAssessed)
    row = {
        "staff_id": e.staff_id,
        "competency": e.competency,
        "seq": recorded.seq,
        "level": e.level,
        "assessed_on": day_of(e.assessed_on) or event_time(recorded).date(),
    }
    await conn.execute(upsert(assessments, row, ["staff_id", "competency", "seq"]))


@projection.on("referral", "TrainingSessionHeld")
async def training_held(conn: AsyncConnection, recorded: RecordedEvent) -> None:
    e = recorded.event
    assert isinstance(e, ref_ev.TrainingSessionHeld)
    row = {
        "session_id": e.session_id,
        "agency": e.agency_id,
        "held_on": day_of(e.held_on) or event_time(recorded).date(),
        "sector": e.sector,
        "participants": sorted(set(e.participants)),
    }
    await conn.execute(upsert(trainings, row, ["session_id"]))
