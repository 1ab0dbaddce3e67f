"""Corrections a case worker reported from the case (casework's ``ChildDetailsReported``)
become the child record's ``ChildDetailsCorrected`` exactly once, under the worker's name:
not before the child has a record, not twice with two instances, not lost when an intake
officer corrects the same child meanwhile. One intake's rules refuse is answered exactly once
with ``ChildCorrectionRefused`` (the code and the reason in both languages, no value), never
retried, and logged by the event's id, never its values."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import nats
import pytest

from contracts.casework import ChildDetailsReported, ChildIdentified, IdentifiedChild
from contracts.intake import ChildCorrectionRefused, ChildDetailsCorrected
from services.intake.app import case_corrections, recording
from services.intake.app.case_corrections import apply_reported_corrections
from services.intake.app.policies import record_owed_children
from services.intake.read import pending_corrections
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


async def _refusals(intake: Intake, child_id: str) -> list[Any]:
    return [
        r for r in await _child_log(intake, child_id) if isinstance(r.event, ChildCorrectionRefused)
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
        # Applied: nothing refused, in the log or the view.
        assert await _refusals(a, child_id) == [] and record["refused_corrections"] == []
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


async def _reported_then_officer_corrects(
    intake: Any, casework: Casework, monkeypatch: pytest.MonkeyPatch, changes: dict[str, Any]
) -> tuple[str, str, str]:
    """A worker reports a new spelling of the name; an intake officer's correction
    (``changes``) lands just after the loop has read the child's record."""
    case_id, child_id, seq = await casework.identify(name="Bio Orou", sex="male", age_years=12)
    await _applied(intake, seq)
    assert await record_owed_children(intake.runtime) == 1
    request_id, seq = await casework.report(case_id, child_id, {"name": "Bio Orou Sika"})
    await _applied(intake, seq)
    officer = intake.as_("intake_officer", agency="cps-zakpota", user="ines")
    matches = recording.correction_matches
    interrupted = False

    async def officer_first(*args: Any) -> Any:
        nonlocal interrupted
        if not interrupted:
            interrupted = True
            answer = await officer.post(
                f"/children/{child_id}/corrections",
                {"changes": changes, "reason": "Acte de naissance"},
            )
            assert answer.status_code == 200, answer.text
        return await matches(*args)

    monkeypatch.setattr(recording, "correction_matches", officer_first)
    return case_id, child_id, request_id


async def test_an_intake_correction_in_between_is_a_conflict_the_loop_gets_past(
    make_intake: Callable[..., Any], casework: Casework, monkeypatch: pytest.MonkeyPatch
) -> None:
    intake = await make_intake()
    try:
        _, child_id, request_id = await _reported_then_officer_corrects(
            intake, casework, monkeypatch, {"age_years": 13}
        )
        officer = intake.as_("intake_officer", agency="cps-zakpota", user="ines")
        assert await apply_reported_corrections(intake.runtime) == 1
        # Decided again on the record as the officer left it: both corrections stand.
        stored = await _corrections(intake, child_id)
        assert [(r.actor.user, r.event.fields) for r in stored] == [
            ("ines", ["age_years"]),
            ("worker-7", ["name"]),
        ]
        assert stored[1].envelope["causationid"] == request_id
        assert await _refusals(intake, child_id) == []
        details = (await officer.get(f"/children/{child_id}")).json()["details"]
        assert (details["name"], details["age_years"]) == ("Bio Orou Sika", 13)
    finally:
        await stop(intake)


NOTHING_CHANGED = {
    "reason_en": "The correction changes nothing in the child record.",
    "reason_fr": "La correction ne modifie rien dans la fiche enfant.",
}
INVALID = {
    "reason_en": "The correction names a field intake does not correct, or a value it does not "
    "accept.",
    "reason_fr": "La correction nomme un champ que l'accueil ne corrige pas, ou une valeur qu'il "
    "n'accepte pas.",
}


async def test_a_correction_intake_refuses_is_answered_once_and_logged_by_id_only(
    make_intake: Callable[..., Any],
    casework: Casework,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.DEBUG)
    a, b = await make_intake("a"), await make_intake("b")
    try:
        case_id, child_id, seq = await casework.identify(
            name="Yao Kpadonou", sex="male", age_years=7
        )
        await _applied(a, seq)
        await _applied(b, seq)
        assert await record_owed_children(a.runtime) == 1
        # Casework's API could not send these; the log could still hold them (an older or a
        # faulty writer): an unknown field, and a correction that changes nothing.
        bad, seq = await casework.report(case_id, child_id, {"name": "Yao Kpadonou-Ahlin",
                                                             "colour": "blue"})  # fmt: skip
        same, seq = await casework.report(case_id, child_id, {"name": "Yao Kpadonou"})
        await _applied(a, seq)
        await _applied(b, seq)
        # Both instances decide on the same log before either appends: a real race.
        decide = case_corrections._decide
        decided: dict[str, int] = {}
        both: dict[str, asyncio.Event] = {bad: asyncio.Event(), same: asyncio.Event()}

        async def in_step(runtime: Any, state: Any, row: Any) -> Any:
            answer = await decide(runtime, state, row)
            decided[row.request_id] = decided.get(row.request_id, 0) + 1
            if decided[row.request_id] == 2:
                both[row.request_id].set()
            await asyncio.wait_for(both[row.request_id].wait(), 5)
            return answer

        monkeypatch.setattr(case_corrections, "_decide", in_step)
        written = await asyncio.gather(
            apply_reported_corrections(a.runtime), apply_reported_corrections(b.runtime)
        )
        monkeypatch.setattr(case_corrections, "_decide", decide)
        assert decided == {bad: 2, same: 2}
        assert sum(written) == 2, written
        assert await _corrections(a, child_id) == []
        refusals = await _refusals(a, child_id)
        assert [r.envelope["causationid"] for r in refusals] == [bad, same]
        assert [r.event.model_dump() for r in refusals] == [
            {
                "child_id": child_id,
                "request_id": bad,
                "case_id": case_id,
                "code": "invalid_changes",
                **INVALID,
            },
            {
                "child_id": child_id,
                "request_id": same,
                "case_id": case_id,
                "code": "nothing_changed",
                **NOTHING_CHANGED,
            },
        ]
        for refusal in refusals:
            assert refusal.actor.user == "system:intake.child-corrector"
            assert "Kpadonou" not in refusal.raw.decode() and "blue" not in refusal.raw.decode()
        # Answered: owed nothing, never tried again, by either instance.
        async with a.runtime.engine.connect() as conn:
            assert (await conn.execute(pending_corrections.select())).all() == []
        assert await apply_reported_corrections(a.runtime) == 0
        assert await apply_reported_corrections(b.runtime) == 0
        assert len(await _refusals(b, child_id)) == 2
        # The child's view shows the refusals; the record is as it was.
        view = (
            await a.as_("intake_officer", agency="cps-zakpota").get(f"/children/{child_id}")
        ).json()
        assert view["details"]["name"] == "Yao Kpadonou" and view["corrections"] == []
        assert [
            (r["request_id"], r["case_id"], r["code"], r["reason"]["en"], r["reason"]["fr"])
            for r in view["refused_corrections"]
        ] == [
            (bad, case_id, "invalid_changes", INVALID["reason_en"], INVALID["reason_fr"]),
            (
                same,
                case_id,
                "nothing_changed",
                NOTHING_CHANGED["reason_en"],
                NOTHING_CHANGED["reason_fr"],
            ),
        ]
        assert [r["at"] for r in view["refused_corrections"]] == [r.time for r in refusals]
        assert view["version"] == refusals[-1].seq
        said = [r.getMessage() for r in caplog.records if r.name == case_corrections.__name__]
        assert [line for line in said if bad in line and "invalid_changes" in line]
        assert [line for line in said if same in line and "nothing_changed" in line]
        assert not [line for line in said if "Kpadonou" in line or "blue" in line]
    finally:
        await stop(a)
        await stop(b)


async def test_a_correction_an_intake_officer_made_meanwhile_is_refused_as_changing_nothing(
    make_intake: Callable[..., Any], casework: Casework, monkeypatch: pytest.MonkeyPatch
) -> None:
    intake = await make_intake()
    try:
        case_id, child_id, request_id = await _reported_then_officer_corrects(
            intake,
            casework,
            monkeypatch,
            {"name": "Bio Orou Sika"},  # the very same change
        )
        assert await apply_reported_corrections(intake.runtime) == 1
        # The officer's correction stands alone; the worker's is answered: nothing changed.
        [officers] = await _corrections(intake, child_id)
        assert officers.actor.user == "ines" and "causationid" not in officers.envelope
        [refused] = await _refusals(intake, child_id)
        assert refused.envelope["causationid"] == request_id
        assert refused.seq > officers.seq
        assert (refused.event.code, refused.event.reason_fr) == (
            "nothing_changed",
            NOTHING_CHANGED["reason_fr"],
        )
        # A rebuild may replay the request after the refusal: it is owed nothing.
        async with intake.runtime.engine.begin() as conn:
            await conn.execute(
                pending_corrections.insert().values(
                    request_id=request_id,
                    child_id=child_id,
                    case_id=case_id,
                    site="hq",
                    requested_at=datetime.now(UTC),
                    actor=WORKER.model_dump(),
                    changes={"name": "Bio Orou Sika"},
                    reason="replayed",
                )
            )
            row = (await conn.execute(pending_corrections.select())).one()
        tried: list[Any] = []
        apply_one = case_corrections.apply_one

        async def watched(*args: Any) -> bool:
            tried.append(args)
            return False

        monkeypatch.setattr(case_corrections, "apply_one", watched)
        assert await apply_reported_corrections(intake.runtime) == 0
        assert tried == []
        # And should the read model lag (a crash before it caught up), the log still says the
        # request is answered: nothing is appended.
        assert await apply_one(intake.runtime, row) is False
        assert len(await _refusals(intake, child_id)) == 1
    finally:
        await stop(intake)
