"""Commands on the directory: register an agency, describe a unit, register a staff member
and assess their competencies, record a training session. Each through the one application
layer: a new aggregate expects version 0; a change to an existing one, the version its
author saw."""

from __future__ import annotations

from contracts.referral import (
    AgencyRegistered,
    CompetencyAssessed,
    StaffMemberRegistered,
    TrainingSessionHeld,
    UnitDescribed,
)
from services.referral.app.aggregates import AGENCY, STAFF, TRAINING, UNIT, staff_aggregate_id
from services.referral.domain.directory import Entry, assess, describe_unit
from shared.commands import Expect, Outcome
from shared.envelope import Actor
from shared.process import Ports


async def register_agency(
    ports: Ports, event: AgencyRegistered, *, actor: Actor, key: str | None
) -> Outcome[Entry]:
    assert ports.commands is not None
    return await ports.commands.execute(
        AGENCY, event.agency_id, lambda _: [event], expect=Expect.new(), actor=actor, key=key
    )


async def describe(
    ports: Ports, event: UnitDescribed, *, expect: Expect, actor: Actor, key: str | None
) -> Outcome[Entry]:
    assert ports.commands is not None
    return await ports.commands.execute(
        UNIT,
        event.unit_id,
        lambda state: describe_unit(state, event),
        expect=expect,
        actor=actor,
        key=key,
    )


async def register_staff(
    ports: Ports, event: StaffMemberRegistered, *, expect: Expect, actor: Actor, key: str | None
) -> Outcome[Entry]:
    assert ports.commands is not None
    return await ports.commands.execute(
        STAFF,
        staff_aggregate_id(event.staff_id),
        lambda _: [event],
        expect=expect,
        actor=actor,
        key=key,
    )


async def assess_staff(
    ports: Ports, event: CompetencyAssessed, *, expect: Expect, actor: Actor, key: str | None
) -> Outcome[Entry]:
    assert ports.commands is not None
    return await ports.commands.execute(
        STAFF,
        staff_aggregate_id(event.staff_id),
        lambda state: assess(state, event),
        expect=expect,
        actor=actor,
        key=key,
    )


async def record_training(
    ports: Ports, event: TrainingSessionHeld, *, actor: Actor, key: str | None
) -> Outcome[Entry]:
    assert ports.commands is not None
    return await ports.commands.execute(
        TRAINING, event.session_id, lambda _: [event], expect=Expect.new(), actor=actor, key=key
    )
