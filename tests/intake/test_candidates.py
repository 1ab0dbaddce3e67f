"""The matcher's candidates from the key table (decision 0033), on a real PostgreSQL: a child
sharing a rare surname outranks children sharing only a common given name, whatever the
number of birth years they share it in; a key's lookup stops at the children most recently
received; the filters hold."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.intake import ReportedChild
from services.intake.app.recording import candidates
from services.intake.config import name_knowledge
from services.intake.domain.matching import Profile, birth_window, profile
from services.intake.read import child_keys, children, metadata
from services.intake.read.match_profiles import stored_keys

pytestmark = pytest.mark.connected

RECEIVED = datetime(2025, 6, 1, 10, tzinfo=UTC)


@pytest.fixture
async def registry(engine: AsyncEngine) -> AsyncIterator[AsyncEngine]:
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield engine


def _rows(
    child_id: str, name: str, age: int | None, *, sex: str = "male", minutes: int = 0
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    received = RECEIVED + timedelta(minutes=minutes)
    details = ReportedChild(child_id=child_id, name=name, sex=sex, age_years=age)
    child = {
        "child_id": child_id,
        "report_id": f"rep-{child_id}",
        "agency": "ocpm",
        "commune": "bj-plateau-ketou",
        "sex": sex,
        "unidentified": False,
        "details": details.model_dump(mode="json"),
        "corrections": [],
        "refusals": [],
        "received_at": received,
        "version": 1,
    }
    keys = [
        {
            "key": key,
            "child_id": child_id,
            "sex": sex,
            "matchable": True,
            "report_id": f"rep-{child_id}",
            "received_at": received,
        }
        for key in stored_keys(details, received.isoformat())
    ]
    return child, keys


async def _store(
    engine: AsyncEngine, *records: tuple[dict[str, Any], list[dict[str, Any]]]
) -> None:
    async with engine.begin() as conn:
        await conn.execute(insert(children), [c for c, _ in records])
        await conn.execute(insert(child_keys), [k for _, ks in records for k in ks])


def _new(name: str, age: int | None, *, sex: str = "male") -> Profile:
    received = date(2025, 9, 1)
    return profile(
        name_knowledge(),
        "new",
        name=name,
        alias=None,
        sex=sex,
        born=birth_window(received, None, age, age) if age is not None else None,
        commune="bj-plateau-ketou",
        ages=(age, age) if age is not None else None,
        report_id="rep-new",
        year=2025,
    )


async def _found(engine: AsyncEngine, new: Profile, **bounds: int) -> list[str]:
    async with engine.connect() as conn:
        return [p.child_id for p in await candidates(conn, new, **bounds)]


async def test_a_rare_surname_outranks_a_common_given_name_shared_over_several_years(
    registry: AsyncEngine,
) -> None:
    # Thirty Koffis of the same age (two birth years each in the index), received later
    # than the child reported again; that child's age was unknown then (key year ``u``).
    await _store(
        registry,
        _rows("known", "Koffi Mingbomi", None),
        *(_rows(f"koffi-{i}", f"Koffi Surname{i}", 9, minutes=i + 1) for i in range(30)),
    )
    found = await _found(registry, _new("Koffi Mingbomi", 9), limit=5)
    assert found[0] == "known"
    # Counting shared keys, each Koffi shared two (one code, two years) against the known
    # child's two (two codes, year u), and the Koffis were received later: it ranked last.
    assert len(found) == 5


async def test_a_key_is_read_up_to_its_most_recent_children(registry: AsyncEngine) -> None:
    await _store(
        registry, *(_rows(f"koffi-{i}", f"Koffi Surname{i}", 9, minutes=i) for i in range(12))
    )
    found = await _found(registry, _new("Koffi", 9), per_key=4, limit=100)
    # Each of Koffi's keys (its code in each birth year, ``u``) stops at its four most
    # recently received children: the older ones are not read.
    assert set(found) == {f"koffi-{i}" for i in range(8, 12)}
    assert set(await _found(registry, _new("Koffi", 9), limit=100)) == {
        f"koffi-{i}" for i in range(12)
    }


async def test_the_other_sex_and_the_same_report_are_left_out(registry: AsyncEngine) -> None:
    await _store(
        registry,
        _rows("boy", "Sena Houngbo", 7),
        _rows("girl", "Sena Houngbo", 7, sex="female"),
    )
    assert await _found(registry, _new("Sena Houngbo", 7)) == ["boy"]
    assert await _found(registry, _new("Sena Houngbo", 7, sex="female")) == ["girl"]
    assert set(await _found(registry, _new("Sena Houngbo", 7, sex="unknown"))) == {"boy", "girl"}
