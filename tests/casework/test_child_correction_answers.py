"""Intake's answers to a worker's corrections of the child's details (decision 0006): the
case shows each correction as sent, applied or refused, whichever of casework's projectors
(CASEWORK, INTAKE) sees its event first."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from nats.aio.client import Client as NATS
from sqlalchemy import select

from contracts.casework import ChildDetailsReported
from contracts.intake import ChildCorrectionRefused, ChildDetailsCorrected
from services.casework.read.child_correction_handlers import child_corrections
from shared.envelope import Actor, Aggregate
from shared.eventstore import EventStore
from shared.ids import derived_id
from shared.recorded import RecordedEvent
from shared.signing import SigningKey
from tests.casework.conftest import Client, Upstream
from tests.casework.test_api import new_case
from tests.casework.test_child_corrections import NAME

WORKER = Actor(user="worker-1", agency="ocpm", role="case_worker")
REFUSED_EN = "The correction changes nothing in the child record."
REFUSED_FR = "La correction ne modifie rien dans la fiche enfant."


class Log:
    """Casework's requests and intake's answers written straight to the log, so a test picks
    which of casework's projectors (CASEWORK, INTAKE) sees its event first."""

    def __init__(self, casework: Client, upstream: Upstream, store: EventStore) -> None:
        self.casework = casework
        self.upstream = upstream
        self.store = store

    @staticmethod
    def request_id(case_id: str, key: str) -> str:
        # The id the request will have, known before it is stored (derived from its key), so
        # that an answer can name it first.
        return derived_id(Aggregate("casework", "hq", "case", case_id).subject_filter, key, "0")

    async def request(
        self, case_id: str, child_id: str, key: str, changes: dict[str, Any]
    ) -> RecordedEvent:
        agg = Aggregate("casework", "hq", "case", case_id)
        result = await self.store.append(
            agg,
            (await self.store.load(agg))[-1].seq,
            [
                ChildDetailsReported(
                    case_id=case_id, child_id=child_id, changes=changes, reason="Vu à la visite"
                )
            ],
            actor=WORKER,
            idempotency_key=key,
        )
        [sent] = result.events
        assert sent.id == self.request_id(case_id, key)
        await self.casework.settle("CASEWORK", sent.seq)
        return sent

    async def applied(self, child_id: str, cause: str | None, **changes: Any) -> RecordedEvent:
        corrected = ChildDetailsCorrected(
            child_id=child_id, fields=sorted(changes), changes=changes, reason="Vu"
        )
        stored = await self.upstream.append(
            "intake", "child", child_id, corrected, causation_id=cause
        )
        await self.casework.settle("INTAKE", stored.seq)
        return stored

    async def refused(self, case_id: str, child_id: str, cause: str) -> RecordedEvent:
        refusal = ChildCorrectionRefused(
            child_id=child_id,
            request_id=cause,
            case_id=case_id,
            code="nothing_changed",
            reason_en=REFUSED_EN,
            reason_fr=REFUSED_FR,
        )
        stored = await self.upstream.append(
            "intake", "child", child_id, refusal, causation_id=cause
        )
        await self.casework.settle("INTAKE", stored.seq)
        return stored


@pytest.fixture
async def log(casework: Client, upstream: Upstream, nc: NATS) -> AsyncIterator[Log]:
    store = EventStore(
        nc,
        key=SigningKey.generate(),
        source="/relais/hq/casework/test",
        site="hq",
        writable_contexts=("casework",),
    )
    yield Log(casework, upstream, store)


def entry(sent: RecordedEvent, status: str, answer: RecordedEvent | None = None) -> dict[str, Any]:
    refused = status == "refused"
    return {
        "request_id": sent.id,
        "fields": sorted(sent.event.changes),
        "at": sent.time,
        "status": status,
        "answered_at": answer.time if answer else None,
        "code": "nothing_changed" if refused else None,
        "reason": {"en": REFUSED_EN, "fr": REFUSED_FR} if refused else None,
    }


def without_ids_or_times(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in i.items() if k not in ("request_id", "at", "answered_at")}
            for i in items]  # fmt: skip


def without_name(case: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in case.items() if k != "child_display_name"}


async def test_the_case_shows_intakes_answer_whichever_its_projectors_see_first(
    casework: Client, upstream: Upstream, log: Log
) -> None:
    views = {}
    for order in ("request first", "answer first"):
        case_id = await new_case(casework, upstream)
        before = await casework.case(case_id)
        child_id = before["child_id"]
        name, school = {"name": NAME}, {"school_status": "enrolled"}
        ids = {k: Log.request_id(case_id, f"{order}:{k}") for k in ("name", "school", "age")}
        if order == "request first":
            by_name = await log.request(case_id, child_id, f"{order}:name", name)
            by_school = await log.request(case_id, child_id, f"{order}:school", school)
            by_age = await log.request(case_id, child_id, f"{order}:age", {"age_years": 9})
            assert [c["status"] for c in (await casework.case(case_id))["child_corrections"]] == [
                "sent",
                "sent",
                "sent",
            ]
            applied = await log.applied(child_id, ids["name"], **name)
            refused = await log.refused(case_id, child_id, ids["school"])
        else:
            applied = await log.applied(child_id, ids["name"], **name)
            refused = await log.refused(case_id, child_id, ids["school"])
            # Answers to requests the case has not seen yet: nothing shows, the version holds
            # (only the name the page shows follows intake's record, decision 0019).
            assert without_name(await casework.case(case_id)) == without_name(before)
            by_name = await log.request(case_id, child_id, f"{order}:name", name)
            by_school = await log.request(case_id, child_id, f"{order}:school", school)
            by_age = await log.request(case_id, child_id, f"{order}:age", {"age_years": 9})
        case = await casework.case(case_id)
        assert case["child_corrections"] == [
            entry(by_name, "applied", applied),
            entry(by_school, "refused", refused),
            entry(by_age, "sent"),
        ], order
        # Intake's answers are not casework's events: the version the worker sends back in
        # If-Match is the case's own.
        assert case["version"] == by_age.seq
        views[order] = without_ids_or_times(case["child_corrections"])
        # French or English, the reason comes in both: the reader picks.
        english = await casework.http.get(
            f"/cases/{case_id}", headers=casework.headers(lang="en", roles=["supervisor"])
        )
        assert english.json()["child_corrections"] == case["child_corrections"]
        # The page names the child as intake's record now reads, in that one place only.
        assert case["child_display_name"] == NAME
        assert NAME not in str(without_name(case))
    assert views["request first"] == views["answer first"]
    # The table holds field names and intake's reasons, never a value.
    assert casework.runtime.engine is not None
    async with casework.runtime.engine.connect() as conn:
        rows = (await conn.execute(select(child_corrections))).all()
    assert len(rows) == 6 and NAME not in str(rows) and "enrolled" not in str(rows)


async def test_intakes_own_corrections_change_nothing_on_the_case(
    casework: Client, upstream: Upstream, log: Log
) -> None:
    case_id = await new_case(casework, upstream)
    child_id = (await casework.case(case_id))["child_id"]
    sent = await log.request(case_id, child_id, "k-1", {"name": NAME})
    before = await casework.case(case_id)
    assert before["child_corrections"] == [entry(sent, "sent")]
    # An intake officer corrects the same child from intake: no cause, not the case's.
    await log.applied(child_id, None, name=NAME)
    # Caused by something that is no request of casework's (or another case's request).
    await log.applied(child_id, "not-a-request", alias="Sèna")
    other = await new_case(casework, upstream)
    other_child = (await casework.case(other))["child_id"]
    elsewhere = await log.request(other, other_child, "k-2", {"documented": True})
    refusal = await log.refused(other, other_child, elsewhere.id)
    # Only the name the page shows follows intake's record (decision 0019).
    after = await casework.case(case_id)
    assert without_name(after) == without_name(before) and after["child_display_name"] == NAME
    assert casework.runtime.engine is not None
    async with casework.runtime.engine.connect() as conn:
        rows = {
            r.request_id: (r.case_id, r.status)
            for r in await conn.execute(select(child_corrections))
        }
    assert rows == {
        sent.id: (case_id, "sent"),
        # Kept (the request might yet come), shown on no case.
        "not-a-request": (None, "applied"),
        elsewhere.id: (other, "refused"),
    }
    assert (await casework.case(other))["child_corrections"] == [
        entry(elsewhere, "refused", refusal)
    ]
