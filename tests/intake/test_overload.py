"""Overload is shed early (decision 0026): past ``RELAIS_INTAKE_COMMANDS_IN_FLIGHT`` commands
at once, intake answers the excess 503 ``overloaded`` with ``Retry-After: 1`` in French or
English, before anything is appended; a shed registration is absent from the log, an
admitted one is there once, and a shed one sent again with its key is stored once. Reads are
never shed."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections import Counter
from pathlib import Path

import nats
import pytest

from services.intake.service import spec
from shared.command_http import new_aggregate_id, scoped_key
from shared.config import Settings
from shared.reading import iter_stored
from shared.shedding import OVERLOADED
from shared.streams import ensure_streams
from tests.intake.conftest import report_body, start, stop

pytestmark = pytest.mark.connected

USER = "op-overload"
LIMIT = 2
BURST = 40


def report_of(key: str) -> str:
    return new_aggregate_id(scoped_key(USER, "POST", "/reports", key), "intake.report")


async def registered_reports(nats_url: str) -> Counter[str]:
    nc = await nats.connect(nats_url)
    try:
        found: Counter[str] = Counter()
        async for _, subject, _ in iter_stored(nc, "INTAKE", "intake.hq.report.*.ReportRegistered"):
            found[subject.split(".")[3]] += 1
        return found
    finally:
        await nc.close()


async def test_excess_commands_are_shed_at_once_and_never_stored(
    nats_url: str, pg_server_url: str, tmp_path: Path
) -> None:
    nc = await nats.connect(nats_url)
    await ensure_streams(nc.jetstream(), "hq", contexts=("intake", "casework", "audit"))
    await nc.close()
    settings = Settings(
        nats_url=nats_url,
        database_url=pg_server_url,
        database_prefix=f"t{uuid.uuid4().hex[:10]}_",
        data_dir=tmp_path,
        intake_commands_in_flight=LIMIT,
    )
    assert settings.commands_in_flight_for("intake") == LIMIT
    intake = await start(dataclasses.replace(spec, processes=[]), settings)
    try:
        caller = intake.as_("intake_officer", user=USER)
        keys = [f"burst-{i}" for i in range(BURST)]

        Answer = tuple[str, int, dict[str, str], dict[str, object]]

        async def register(i: int, key: str) -> Answer:
            headers = {"Idempotency-Key": key, **({"Accept-Language": "en"} if i % 2 else {})}
            answer = await caller.post("/reports", report_body(), **headers)
            return key, answer.status_code, dict(answer.headers), answer.json()

        answers = await asyncio.gather(
            *(register(i, k) for i, k in enumerate(keys)),
            *(caller.get("/reports") for _ in range(10)),
        )
        registrations = answers[:BURST]
        reads = answers[BURST:]
        statuses = Counter(status for _, status, _, _ in registrations)
        assert set(statuses) == {201, 503}, statuses
        assert statuses[201] >= LIMIT and statuses[503] > 0, statuses
        assert all(read.status_code == 200 for read in reads)  # type: ignore[union-attr]

        for i, (_, status, headers, body) in enumerate(registrations):
            if status != 503:
                continue
            assert headers["retry-after"] == "1"
            error = body["error"]
            assert isinstance(error, dict)
            assert error["code"] == "overloaded" and error["stored"] is False
            assert error["message"] == (OVERLOADED.en if i % 2 else OVERLOADED.fr)

        admitted = {report_of(k) for k, status, _, _ in registrations if status == 201}
        shed = [k for k, status, _, _ in registrations if status == 503]
        stored = await registered_reports(nats_url)
        assert set(stored) == admitted  # a shed registration was never appended
        assert set(stored.values()) == {1}

        # The client does what the answer says: the same request again, one at a time.
        for key in shed:
            answer = await caller.post("/reports", report_body(), **{"Idempotency-Key": key})
            assert answer.status_code == 201, answer.text
        stored = await registered_reports(nats_url)
        assert set(stored) == {report_of(k) for k in keys}
        assert set(stored.values()) == {1}
    finally:
        await stop(intake)
