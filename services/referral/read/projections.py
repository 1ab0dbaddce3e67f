"""The referral service's read models: the directory, capacity and referrals.

Every row keeps ``last_seq``, the stream sequence of its aggregate's last event, which the
API passes back as the expected version when it writes to that aggregate. Every event lives
on the REFERRAL stream, so handlers see them in order; rows of other aggregates (a unit for a
referral) are looked up at query time rather than copied, so order between aggregates never
matters."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    delete,
    func,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts import referral as ev
from services.referral.domain import Status, parse_time
from shared.projection import Projection
from shared.recorded import RecordedEvent

metadata = MetaData()

agencies = Table(
    "agencies",
    metadata,
    Column("agency_id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("type", String(40), nullable=False),
    Column("commune", String(100)),
    Column("last_seq", BigInteger, nullable=False),
)

units = Table(
    "units",
    metadata,
    Column("unit_id", String(64), primary_key=True),
    Column("agency_id", String(64), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("commune", String(100), nullable=False),
    Column("service_kinds", JSONB, nullable=False),
    Column("opening_hours", JSONB, nullable=False),
    Column("languages", JSONB, nullable=False),
    Column("min_age", Integer, nullable=False),
    Column("max_age", Integer, nullable=False),
    Column("sexes", JSONB, nullable=False),
    Column("expected_services", JSONB, nullable=False),
    Column("supervisor", String(200)),
    Column("hub_id", String(64), index=True),
    Column("last_seq", BigInteger, nullable=False),
)

capacity = Table(
    "capacity",
    metadata,
    Column("unit_id", String(64), primary_key=True),
    Column("total", Integer, nullable=False, default=0),
    Column("occupied_outside", Integer, nullable=False, default=0),
    Column("reserved", Integer, nullable=False, default=0),
    Column("held", Integer, nullable=False, default=0),
    Column("last_seq", BigInteger, nullable=False),
)

# Places a coordinator held by hand (PlaceHeld), until released (PlaceFreed). Kept apart from
# ``reservations``, which the capacity sweep keeps in step with the referrals' statuses.
holds = Table(
    "holds",
    metadata,
    Column("unit_id", String(64), primary_key=True),
    Column("hold_id", String(64), primary_key=True),
    Column("note", Text, nullable=False),
    Column("until", String(10)),
    Column("held_at", DateTime(timezone=True), nullable=False),
    Column("held_by", String(200)),
)

reservations = Table(
    "reservations",
    metadata,
    Column("unit_id", String(64), primary_key=True),
    Column("referral_id", String(64), primary_key=True),
    Column("override_reason", Text),
    # When the place was taken (the event's time), so the capacity sweep can tell a
    # reservation whose acceptance is still on its way from one left by an interruption.
    Column("reserved_at", DateTime(timezone=True), nullable=False),
)

staff = Table(
    "staff",
    metadata,
    Column("staff_id", String(200), primary_key=True),
    Column("agency_id", String(64), nullable=False),
    Column("unit_id", String(64), nullable=False, index=True),
    Column("sector", String(40), nullable=False),
    Column("role", String(100), nullable=False),
    Column("display_name", String(200), nullable=False),
    Column("last_seq", BigInteger, nullable=False),
)

assessments = Table(
    "assessments",
    metadata,
    Column("seq", BigInteger, primary_key=True),
    Column("staff_id", String(200), nullable=False, index=True),
    Column("competency", String(100), nullable=False),
    Column("level", String(40), nullable=False),
    Column("assessor", String(200), nullable=False),
    Column("assessed_on", String(10), nullable=False),
)

trainings = Table(
    "trainings",
    metadata,
    Column("session_id", String(64), primary_key=True),
    Column("agency_id", String(64), nullable=False),
    Column("held_on", String(10), nullable=False),
    Column("topic", String(300), nullable=False),
    Column("trainer", String(200), nullable=False),
    Column("participants", JSONB, nullable=False),
    Column("sector", String(40)),
)

referrals = Table(
    "referrals",
    metadata,
    Column("referral_id", String(64), primary_key=True),
    Column("case_id", String(100), nullable=False, index=True),
    Column("child_id", String(100), nullable=False),
    Column("from_agency", String(64), nullable=False, index=True),
    Column("from_unit", String(64)),
    # The case plan action the referral carries out, when the referrer named one.
    Column("action_id", String(64)),
    Column("to_agency", String(64), nullable=False),
    Column("to_unit", String(64), nullable=False, index=True),
    Column("service_kind", String(40), nullable=False),
    Column("urgency", String(20), nullable=False),
    Column("reason", Text, nullable=False),
    Column("consent", JSONB, nullable=False),
    Column("shared_fields", JSONB, nullable=False),
    Column("details", JSONB, nullable=False, default=dict),
    Column("status", String(20), nullable=False, index=True),
    Column("made_by", String(200), nullable=False),
    Column("made_at", DateTime(timezone=True), nullable=False),
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("answered_at", DateTime(timezone=True)),
    Column("closed_at", DateTime(timezone=True)),
    Column("override_reason", Text),
    Column("decline_reason", Text),
    Column("suggested_unit", String(64)),
    Column("outcome", Text),
    Column("withdraw_reason", Text),
    Column("overdue", Boolean, nullable=False, default=False),
    Column("escalated", Boolean, nullable=False, default=False),
    Column("escalated_to", String(200)),
    Column("last_seq", BigInteger, nullable=False),
    # The id of the referral's last event, to answer a retried command as the first attempt
    # was answered rather than refuse it as an illegal transition (its ids derive from the
    # command's idempotency key: ``app/common.replayed``).
    Column("last_command_id", String(64)),
)

# v2: units.hub_id, reservations.reserved_at.
# v3: last_command_id is the last event's own id (correlation ids now name a whole chain).
# v4: places held by hand (holds, capacity.held); referrals.action_id.
projection = Projection(name="referral.directory", version=4, metadata=metadata)


def _model(e: RecordedEvent) -> dict[str, object]:
    return e.event.model_dump()


@projection.on("referral", "AgencyRegistered")
async def _agency(conn: AsyncConnection, e: RecordedEvent) -> None:
    row = {**_model(e), "last_seq": e.seq}
    row["name"] = row.pop("agency_name")
    stmt = insert(agencies).values(row)
    await conn.execute(stmt.on_conflict_do_update(index_elements=["agency_id"], set_=row))


@projection.on("referral", "UnitDescribed")
async def _unit(conn: AsyncConnection, e: RecordedEvent) -> None:
    row = {**_model(e), "last_seq": e.seq}
    row["name"] = row.pop("unit_name")
    stmt = insert(units).values(row)
    await conn.execute(stmt.on_conflict_do_update(index_elements=["unit_id"], set_=row))


async def _capacity_row(conn: AsyncConnection, unit_id: str, seq: int) -> None:
    stmt = insert(capacity).values(
        unit_id=unit_id, total=0, occupied_outside=0, reserved=0, held=0, last_seq=seq
    )
    await conn.execute(
        stmt.on_conflict_do_update(index_elements=["unit_id"], set_={"last_seq": seq})
    )


@projection.on("referral", "CapacitySet")
async def _capacity_set(conn: AsyncConnection, e: RecordedEvent) -> None:
    assert isinstance(e.event, ev.CapacitySet)
    await _capacity_row(conn, e.event.unit_id, e.seq)
    await conn.execute(
        update(capacity)
        .where(capacity.c.unit_id == e.event.unit_id)
        .values(total=e.event.total, occupied_outside=e.event.occupied_outside)
    )


@projection.on("referral", "PlaceReserved")
async def _reserved(conn: AsyncConnection, e: RecordedEvent) -> None:
    assert isinstance(e.event, ev.PlaceReserved)
    await _capacity_row(conn, e.event.unit_id, e.seq)
    await conn.execute(
        insert(reservations)
        .values(
            unit_id=e.event.unit_id,
            referral_id=e.event.referral_id,
            override_reason=e.event.override_reason,
            reserved_at=parse_time(e.time),
        )
        .on_conflict_do_nothing()
    )
    await _count_reserved(conn, e.event.unit_id)


@projection.on("referral", "PlaceReleased")
async def _released(conn: AsyncConnection, e: RecordedEvent) -> None:
    assert isinstance(e.event, ev.PlaceReleased)
    await _capacity_row(conn, e.event.unit_id, e.seq)
    await conn.execute(
        delete(reservations)
        .where(reservations.c.unit_id == e.event.unit_id)
        .where(reservations.c.referral_id == e.event.referral_id)
    )
    await _count_reserved(conn, e.event.unit_id)


async def _count_reserved(conn: AsyncConnection, unit_id: str) -> None:
    count = (
        select(func.count())
        .select_from(reservations)
        .where(reservations.c.unit_id == unit_id)
        .scalar_subquery()
    )
    await conn.execute(update(capacity).where(capacity.c.unit_id == unit_id).values(reserved=count))


@projection.on("referral", "PlaceHeld")
async def _held(conn: AsyncConnection, e: RecordedEvent) -> None:
    assert isinstance(e.event, ev.PlaceHeld)
    await _capacity_row(conn, e.event.unit_id, e.seq)
    await conn.execute(
        insert(holds)
        .values(
            unit_id=e.event.unit_id,
            hold_id=e.event.hold_id,
            note=e.event.note,
            until=e.event.until,
            held_at=parse_time(e.time),
            held_by=e.actor.user,
        )
        .on_conflict_do_nothing()
    )
    await _count_held(conn, e.event.unit_id)


@projection.on("referral", "PlaceFreed")
async def _freed(conn: AsyncConnection, e: RecordedEvent) -> None:
    assert isinstance(e.event, ev.PlaceFreed)
    await _capacity_row(conn, e.event.unit_id, e.seq)
    await conn.execute(
        delete(holds)
        .where(holds.c.unit_id == e.event.unit_id)
        .where(holds.c.hold_id == e.event.hold_id)
    )
    await _count_held(conn, e.event.unit_id)


async def _count_held(conn: AsyncConnection, unit_id: str) -> None:
    count = (
        select(func.count()).select_from(holds).where(holds.c.unit_id == unit_id).scalar_subquery()
    )
    await conn.execute(update(capacity).where(capacity.c.unit_id == unit_id).values(held=count))


@projection.on("referral", "StaffMemberRegistered")
async def _staff(conn: AsyncConnection, e: RecordedEvent) -> None:
    assert isinstance(e.event, ev.StaffMemberRegistered)
    row = {
        "staff_id": e.event.staff_id,
        "agency_id": e.event.agency,
        "unit_id": e.event.unit,
        "sector": e.event.sector,
        "role": e.event.role,
        "display_name": e.event.display_name,
        "last_seq": e.seq,
    }
    stmt = insert(staff).values(row)
    await conn.execute(stmt.on_conflict_do_update(index_elements=["staff_id"], set_=row))


@projection.on("referral", "CompetencyAssessed")
async def _assessed(conn: AsyncConnection, e: RecordedEvent) -> None:
    await conn.execute(insert(assessments).values(seq=e.seq, **_model(e)))
    staff_id = getattr(e.event, "staff_id", "")
    await conn.execute(update(staff).where(staff.c.staff_id == staff_id).values(last_seq=e.seq))


@projection.on("referral", "TrainingSessionHeld")
async def _training(conn: AsyncConnection, e: RecordedEvent) -> None:
    await conn.execute(insert(trainings).values(_model(e)).on_conflict_do_nothing())


# -- referrals ---------------------------------------------------------------------------


async def _touch(conn: AsyncConnection, e: RecordedEvent, **values: object) -> None:
    referral_id = getattr(e.event, "referral_id", "")
    await conn.execute(
        update(referrals)
        .where(referrals.c.referral_id == referral_id)
        .values(last_seq=e.seq, last_command_id=_command_id(e), **values)
    )


def _command_id(e: RecordedEvent) -> str:
    return e.id


@projection.on("referral", "ReferralMade")
async def _made(conn: AsyncConnection, e: RecordedEvent) -> None:
    assert isinstance(e.event, ev.ReferralMade)
    data = e.event.model_dump(mode="json")
    data.update(
        status=Status.made.value,
        made_by=e.actor.user,
        made_at=parse_time(e.time),
        due_at=parse_time(e.event.due_at),
        details={},
        last_seq=e.seq,
        last_command_id=_command_id(e),
    )
    await conn.execute(insert(referrals).values(data).on_conflict_do_nothing())


@projection.on("referral", "ReferralDetailsShared")
async def _details(conn: AsyncConnection, e: RecordedEvent) -> None:
    details = e.event.model_dump(mode="json", exclude={"referral_id"}, exclude_none=True)
    await _touch(conn, e, details=details)


@projection.on("referral", "ReferralAccepted")
async def _accepted(conn: AsyncConnection, e: RecordedEvent) -> None:
    assert isinstance(e.event, ev.ReferralAccepted)
    await _touch(
        conn,
        e,
        status=Status.accepted.value,
        answered_at=parse_time(e.time),
        override_reason=e.event.capacity_override_reason,
    )


@projection.on("referral", "ReferralDeclined")
async def _declined(conn: AsyncConnection, e: RecordedEvent) -> None:
    assert isinstance(e.event, ev.ReferralDeclined)
    at = parse_time(e.time)
    await _touch(
        conn,
        e,
        status=Status.declined.value,
        answered_at=at,
        closed_at=at,
        decline_reason=e.event.reason,
        suggested_unit=e.event.suggested_unit,
    )


@projection.on("referral", "ReferralCompleted")
async def _completed(conn: AsyncConnection, e: RecordedEvent) -> None:
    assert isinstance(e.event, ev.ReferralCompleted)
    await _touch(
        conn,
        e,
        status=Status.completed.value,
        closed_at=parse_time(e.time),
        outcome=e.event.outcome,
    )


@projection.on("referral", "ReferralWithdrawn")
async def _withdrawn(conn: AsyncConnection, e: RecordedEvent) -> None:
    assert isinstance(e.event, ev.ReferralWithdrawn)
    await _touch(
        conn,
        e,
        status=Status.withdrawn.value,
        closed_at=parse_time(e.time),
        withdraw_reason=e.event.reason,
    )


@projection.on("referral", "ReferralOverdue")
async def _overdue(conn: AsyncConnection, e: RecordedEvent) -> None:
    await _touch(conn, e, overdue=True)


@projection.on("referral", "ReferralEscalated")
async def _escalated(conn: AsyncConnection, e: RecordedEvent) -> None:
    assert isinstance(e.event, ev.ReferralEscalated)
    await _touch(conn, e, escalated=True, escalated_to=e.event.escalated_to)
