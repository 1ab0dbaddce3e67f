"""Helpers for the offline-office test (tests/test_sites_up.py): an office's people working
over HTTP, the events each site holds, and an office's read models as rows."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import nats
import nats.errors
from sqlalchemy import select

from relais.rebuild import find_servers, load_spec
from shared.auth import LocalIssuer
from shared.config import Settings
from shared.db import make_engine
from shared.generations import on_generation, read_live
from shared.nats_accounts import ADMIN
from shared.reading import ReadError, iter_stored
from shared.streams import CONTEXTS, stream_name

AGENCY = "ocpm"
CASE_OPENS_S = 30.0  # casework's opener looks for accepted reports every second
PROJECTED_S = 30.0


class People:
    """Tokens the hub signed (its key is shared with the office), one role each."""

    def __init__(self, keys: Path) -> None:
        self.issuer = LocalIssuer.load(keys)

    def __call__(self, role: str, user: str, **headers: str) -> dict[str, str]:
        token = self.issuer.mint(user=user, agency=AGENCY, roles=[role], unit=None, ttl_s=3600)
        return {"Authorization": f"Bearer {token}", "Accept-Language": "en", **headers}


def report_body(concern: str) -> dict[str, Any]:
    # Received an hour ago: the stage's deadline is days away, so no overdue flag changes
    # the case's version while the test works it.
    received = datetime.now(UTC) - timedelta(hours=1)
    return {
        "channel": "hotline_116",
        "received_at": received.isoformat(),
        "commune": "bj-borgou-parakou",
        "concerns": [concern],
        "children": [{"sex": "female", "age_years": 11}],
    }


def register(intake: str, people: People, key: str, concern: str) -> dict[str, Any]:
    headers = people("hotline_operator", "u-op", **{"Idempotency-Key": key})
    answer = httpx.post(f"{intake}/reports", json=report_body(concern), headers=headers, timeout=30)
    assert answer.status_code == 201, answer.text
    registered: dict[str, Any] = answer.json()
    return registered


def screen(intake: str, people: People, report_id: str) -> None:
    """A protection concern, decided on the version the screener read (If-Match)."""
    read = httpx.get(f"{intake}/reports/{report_id}", headers=people("screener", "u-scr"))
    assert read.status_code == 200, read.text
    headers = people(
        "screener", "u-scr", **{"If-Match": read.headers["ETag"], "Idempotency-Key": report_id}
    )
    decision = {"decision": "protection_concern", "urgency": "high", "rationale": "Labour"}
    answer = httpx.post(
        f"{intake}/reports/{report_id}/screening", json=decision, headers=headers, timeout=30
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["accepted"] is True, answer.text


def case_of(casework: str, people: People, child_id: str) -> str:
    """The case casework opened by itself for the accepted report's child."""
    deadline = time.monotonic() + CASE_OPENS_S
    while time.monotonic() < deadline:
        listed = httpx.get(
            f"{casework}/cases", params={"child_id": child_id}, headers=people("auditor", "u-aud")
        )
        assert listed.status_code == 200, listed.text
        if items := listed.json()["items"]:
            return str(items[0]["case_id"])
        time.sleep(0.3)
    raise AssertionError(f"casework opened no case within {CASE_OPENS_S} s")


def work(casework: str, people: People, case_id: str) -> None:
    """A note and a visit that reassesses the risk: case work the office can do alone (an
    assignment needs the staff directory, which the hub's referral service keeps)."""
    visit = {"visited_on": date.today().isoformat(), "child_seen": True, "risk_level": "high"}
    steps = [("notes", {"sensitivity": "normal", "text": "First call made."}), ("visits", visit)]
    for path, body in steps:
        read = httpx.get(f"{casework}/cases/{case_id}", headers=people("case_worker", "u-cw"))
        assert read.status_code == 200, read.text
        headers = people(
            "case_worker", "u-cw", **{"If-Match": read.headers["ETag"], "Idempotency-Key": path}
        )
        answer = httpx.post(
            f"{casework}/cases/{case_id}/{path}", json=body, headers=headers, timeout=30
        )
        assert answer.status_code == 200, answer.text


# -- the log at each site --------------------------------------------------------------------


async def _quiet(exc: Exception) -> None:
    pass  # the caller polls a server that may not listen yet: no traceback for each try


async def office_events(url: str, password: str, site: str) -> dict[str, list[str]]:
    """For every linked stream, the ids of the events ``site`` wrote, in stream order."""
    nc = await nats.connect(
        url, user=ADMIN, password=password, max_reconnect_attempts=1, error_cb=_quiet
    )
    try:
        found: dict[str, list[str]] = {}
        for context in CONTEXTS:
            stream = stream_name(context)
            found[stream] = [
                msg.headers["Nats-Msg-Id"] if msg.headers else json.loads(msg.data)["id"]
                async for _, _, msg in iter_stored(nc, stream, f"{context}.{site}.>")
            ]
        return found
    finally:
        await nc.close()


def events_of(url: str, password: str, site: str) -> dict[str, list[str]]:
    return asyncio.run(office_events(url, password, site))


# -- read models -----------------------------------------------------------------------------


Rows = dict[str, list[dict[str, Any]]]


async def _read_models(data_dir: Path, service: str) -> Rows:
    """Every row of ``service``'s live read models, found as ``relais rebuild`` finds them
    (the run file relais up keeps in its data directory)."""
    servers = find_servers(Settings(data_dir=data_dir), data_dir)
    database = Settings(database_url=servers.database_url).database_url_for(service)
    engine = make_engine(database, pool_size=1)
    try:
        generation = on_generation(engine, await read_live(engine))
        found: Rows = {}
        async with generation.connect() as conn:
            for projection in load_spec(service).projections:
                for table in projection.metadata.sorted_tables:
                    query = select(table).order_by(*table.primary_key.columns)
                    found[table.name] = [dict(row._mapping) for row in await conn.execute(query)]
        return found
    finally:
        await engine.dispose()


def read_models(data_dir: Path, service: str) -> Rows:
    return asyncio.run(_read_models(data_dir, service))


# -- the office's day without the hub ----------------------------------------------------------


@dataclass(frozen=True)
class Worked:
    reports: list[str]
    cases: list[str]


def work_offline(intake: str, casework: str, people: People) -> Worked:
    """Two reports registered (one of them sent twice, as a client retries after a lost
    answer), screened as protection concerns, their cases opened by casework and worked."""
    registered = [
        register(intake, people, "offline-1", "child_labour"),
        register(intake, people, "offline-2", "neglect"),
    ]
    retried = register(intake, people, "offline-1", "child_labour")
    assert retried["report_id"] == registered[0]["report_id"]
    cases = []
    for report in registered:
        screen(intake, people, report["report_id"])
        cases.append(case_of(casework, people, report["children"][0]["child_id"]))
    for case_id in cases:
        work(casework, people, case_id)
    return Worked([r["report_id"] for r in registered], cases)


def reaches(hub: tuple[str, str], written: dict[str, list[str]], site: str, within: float) -> float:
    """Seconds until the hub holds, in each stream, the events ``site`` wrote, in order; the
    office may have written more since (its audit anchors), so they are a prefix."""
    started = time.monotonic()
    held: dict[str, list[str]] = {}
    while time.monotonic() - started < within:
        try:
            held = events_of(*hub, site)
        except (OSError, nats.errors.Error, ReadError):
            held = {}  # the hub's server is not listening yet
        if all(held.get(s, [])[: len(ids)] == ids for s, ids in written.items()):
            return time.monotonic() - started
        time.sleep(0.5)
    missing = {s: len(ids) - len(held.get(s, [])) for s, ids in written.items()}
    raise AssertionError(f"events of {site} missing at the hub after {within} s: {missing}")


def projected(data_dir: Path, service: str, table: str, column: str, ids: list[str]) -> None:
    """Waits until ``table`` of ``service``'s read models holds ``ids`` (a site projects the
    events it sourced from another as they come)."""
    deadline = time.monotonic() + PROJECTED_S
    found: list[Any] = []
    while time.monotonic() < deadline:
        found = [row[column] for row in read_models(data_dir, service)[table]]
        if set(ids) <= set(found):
            return
        time.sleep(0.5)
    raise AssertionError(f"{data_dir.name} {table}: {len(found)} rows, not the {len(ids)} expected")
