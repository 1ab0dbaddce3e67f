"""Corrections a case worker reported from the case (casework's ``ChildDetailsReported``)
become the child record's ``ChildDetailsCorrected`` exactly once, under the worker's name:
not before the child has a record, not twice with two instances, not lost when an intake
officer corrects the same child meanwhile, and never retried once intake's rules refuse one
(logged by the event's id, never its values)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import nats
import pytest

from services.casework.events import ChildDetailsReported, ChildIdentified, IdentifiedChild
from services.intake import case_corrections, recording
from services.intake.case_corrections import apply_reported_corrections
from services.intake.events import ChildDetailsCorrected
from services.intake.policies import record_owed_children
from services.intake.projections import pending_corrections
from shared.envelope import Actor, Aggregate
from shared.eventstore import EventStore
from shared.signing import SigningKey
from tests.intake.conftest import Intake, ago, stop

WORKER = Actor(user="worker-7", agency="cps-zakpota", role="case_worker")
NAME, DOB = "Sèna Houénou", "2014-06-03"


class Casework:
    """Casework's side of the log, as its service would write it (streams made by intake)."""

    def __init__(self, store: EventStore) -> None:
        self.store = store

    async def identify(self, **details: Any) -> tuple[str, str, int]:
        case_id, child_id = str(uuid.uuid4()), str(uuid.uuid4())
        result = await self.store.append(
            Aggregate("casework", "hq", "case", case_id),
            0,
            [
                ChildIdentified(
                    child_id=child_id,
                    agency="cps-zakpota",
                    commune="bj-zou-za-kpota",
                    found_at=ago(hours=2),
                    details=IdentifiedChild(**details),
                )
            ],
            actor=WORKER,
        )
        return case_id, child_id, result.head.seq

    async def report(
        self, case_id: str, child_id: str, changes: dict[str, Any], reason: str = "Vu à la visite"
    ) -> tuple[str, int]:
        agg = Aggregate("casework", "hq", "case", case_id)
        head = (await self.store.load(agg))[-1].seq
        result = await self.store.append(
            agg,
            head,
            [
                ChildDetailsReported(
                    case_id=case_id, child_id=child_id, changes=changes, reason=reason
                )
            ],
            actor=WORKER,
        )
        [sent] = result.events
        return sent.id, sent.seq


@pytest.fixture
async def casework(nats_url: str) -> AsyncIterator[Casework]:
    nc = await nats.connect(nats_url)
    yield Casework(
        EventStore(
            nc,
            key=SigningKey.generate(),
            source="/relais/hq/casework/1",
            site="hq",
            writable_contexts=("casework",),
        )
    )
    await nc.close()


async def _applied(intake: Intake, seq: int) -> None:
    for projector in intake.runtime.projectors:
        if projector.stream == "CASEWORK":
            assert await projector.wait_for(seq, 5)


async def _child_log(intake: Intake, child_id: str) -> list[Any]:
    return await intake.runtime.store.load(Aggregate("intake", "hq", "child", child_id))


async def _corrections(intake: Intake, child_id: str) -> list[Any]:
    return [
        r for r in await _child_log(intake, child_id) if isinstance(r.event, ChildDetailsCorrected)
    ]


async def test_a_reported_correction_waits_for_the_record_then_is_applied_once(
    make_intake: Callable[..., Any], casework: Casework, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = await make_intake("a"), await make_intake("b")
    try:
        case_id, child_id, _ = await casework.identify(
            name="Sena Houenou", sex="female", age_years=9
        )
        request_id, seq = await casework.report(
            case_id,
            child_id,
            {"name": NAME, "date_of_birth": DOB, "school_status": "enrolled"},
            reason="Acte de naissance présenté par la mère",
        )
        await _applied(a, seq)
        # The child has no record yet (the recorder has not run): the correction waits.
        assert await apply_reported_corrections(a.runtime) == 0
        assert await record_owed_children(a.runtime) == 1
        # Both instances at once: one correction.
        written = await asyncio.gather(
            apply_reported_corrections(a.runtime), apply_reported_corrections(b.runtime)
        )
        assert sum(written) == 1
        [stored] = await _corrections(a, child_id)
        assert stored.envelope["causationid"] == request_id
        assert (stored.actor.user, stored.actor.agency, stored.actor.role) == (
            "worker-7",
            "cps-zakpota",
            "case_worker",
        )
        event = stored.event
        # A birth date replaces the whole age: the age the worker first guessed goes.
        assert event.fields == ["age_years", "date_of_birth", "name", "school_status"]
        assert await apply_reported_corrections(a.runtime) == 0
        assert await apply_reported_corrections(b.runtime) == 0
        view = await a.as_("intake_officer", agency="cps-zakpota").get(f"/children/{child_id}")
        record = view.json()
        assert record["details"]["name"] == NAME and record["details"]["date_of_birth"] == DOB
        assert record["details"]["age_years"] is None
        [history] = record["corrections"]
        assert history["reason"] == "Acte de naissance présenté par la mère"
        assert history["by"] == WORKER.model_dump() and history["request_id"] == request_id
        # A rebuild may replay casework's request after intake's answer: the answered
        # request is owed nothing, and the loop does not even look at it.
        async with a.runtime.engine.begin() as conn:
            await conn.execute(
                pending_corrections.insert().values(
                    request_id=request_id,
                    child_id=child_id,
                    case_id=case_id,
                    site="hq",
                    requested_at=datetime.now(UTC),
                    actor=WORKER.model_dump(),
                    changes={"name": NAME},
                    reason="replayed",
                    status="pending",
                )
            )

        tried: list[Any] = []

        async def watched(*args: Any) -> bool:
            tried.append(args)
            return False

        monkeypatch.setattr(case_corrections, "apply_one", watched)
        assert await apply_reported_corrections(a.runtime) == 0
        assert tried == []
    finally:
        await stop(a)
        await stop(b)


async def test_an_intake_correction_in_between_is_a_conflict_the_loop_gets_past(
    make_intake: Callable[..., Any], casework: Casework, monkeypatch: pytest.MonkeyPatch
) -> None:
    intake = await make_intake()
    try:
        case_id, child_id, seq = await casework.identify(name="Bio Orou", sex="male", age_years=12)
        await _applied(intake, seq)
        assert await record_owed_children(intake.runtime) == 1
        request_id, seq = await casework.report(case_id, child_id, {"name": "Bio Orou Sika"})
        await _applied(intake, seq)
        # An intake officer corrects the age just after the loop read the record.
        officer = intake.as_("intake_officer", agency="cps-zakpota", user="ines")
        matches = recording.correction_matches
        interrupted = False

        async def officer_first(*args: Any) -> Any:
            nonlocal interrupted
            if not interrupted:
                interrupted = True
                answer = await officer.post(
                    f"/children/{child_id}/corrections",
                    {"changes": {"age_years": 13}, "reason": "Carnet de vaccination"},
                )
                assert answer.status_code == 200, answer.text
            return await matches(*args)

        monkeypatch.setattr(recording, "correction_matches", officer_first)
        assert await apply_reported_corrections(intake.runtime) == 1
        # Decided again on the record as the officer left it: both corrections stand.
        stored = await _corrections(intake, child_id)
        assert [(r.actor.user, r.event.fields) for r in stored] == [
            ("ines", ["age_years"]),
            ("worker-7", ["name"]),
        ]
        assert stored[1].envelope["causationid"] == request_id
        details = (await officer.get(f"/children/{child_id}")).json()["details"]
        assert (details["name"], details["age_years"]) == ("Bio Orou Sika", 13)
    finally:
        await stop(intake)


async def test_a_correction_intake_refuses_is_set_aside_and_logged_by_id_only(
    make_intake: Callable[..., Any], casework: Casework, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    intake = await make_intake()
    try:
        case_id, child_id, seq = await casework.identify(
            name="Yao Kpadonou", sex="male", age_years=7
        )
        await _applied(intake, seq)
        assert await record_owed_children(intake.runtime) == 1
        # Casework's API could not send these; the log could still hold them (an older or a
        # faulty writer): an unknown field, and a correction that changes nothing.
        bad, seq = await casework.report(case_id, child_id, {"name": "Yao Kpadonou-Ahlin",
                                                             "colour": "blue"})  # fmt: skip
        same, seq = await casework.report(case_id, child_id, {"name": "Yao Kpadonou"})
        await _applied(intake, seq)
        assert await apply_reported_corrections(intake.runtime) == 0
        assert await _corrections(intake, child_id) == []
        async with intake.runtime.engine.connect() as conn:
            rows = await conn.execute(
                pending_corrections.select().order_by(pending_corrections.c.requested_at)
            )
            refused = {r.request_id: (r.status, r.refusal) for r in rows}
        assert refused == {
            bad: ("unusable", "invalid_changes"),
            same: ("unusable", "nothing_changed"),
        }
        # Set aside: never tried again.
        assert await apply_reported_corrections(intake.runtime) == 0
        said = [r.getMessage() for r in caplog.records if r.name == case_corrections.__name__]
        assert any(bad in line for line in said) and any(same in line for line in said)
        assert not [line for line in said if "Kpadonou" in line or "blue" in line]
    finally:
        await stop(intake)
