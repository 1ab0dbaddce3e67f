"""A case worker corrects the child's details from the case (decision 0006), with casework and
two intake instances running for real on one NATS and one PostgreSQL:

- a police worker opens a case for a child found in the street, with the name misspelt and
  the age guessed, and at once sends the right spelling and the birth date from the case;
- intake records the child, then applies the correction once, under the worker's name and
  with the worker's reason, however many of its instances run the corrector, and the case
  shows it applied;
- a correction an intake officer already made (the same spelling) is answered once with a
  refusal, and the case shows it refused with intake's reason in French and English;
- casework's read models and every log line hold neither the name nor the birth date.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from contracts.intake import ChildCorrectionRefused, ChildDetailsCorrected
from services.casework.service import spec as casework_spec
from services.intake.app.case_corrections import child_corrector_every
from services.intake.app.policies import child_recorder_every
from services.intake.service import spec as intake_spec
from shared.auth import LocalIssuer
from shared.config import Settings
from shared.envelope import Aggregate
from shared.service import create_app
from tests.journey_support import Service, eventually, log_texts

POLICE = "police-parakou"  # its tokens name no unit: units are checked (decision 0013)
MISSPELT, NAME, DOB = "Bio Orou Sikka", "Bio Orou Sika", "2013-09-21"
# Every spelling that would give the child away in casework's tables or a log line.
SECRETS = (MISSPELT, NAME, "Sika", "Sikka", DOB, "21/09/2013", "20130921")


def leaks(found: str) -> list[str]:
    low = found.lower()
    return [s for s in SECRETS if s.lower() in low]


@pytest.fixture
async def services(
    nats_url: str, pg_server_url: str, tmp_path: Path
) -> AsyncIterator[dict[str, Service]]:
    prefix = f"t{uuid.uuid4().hex[:10]}_"
    # Intake's loops, quick: the recorder and the corrector run on both instances at once.
    quick = dataclasses.replace(
        intake_spec, background=[child_recorder_every(0.05, grace_s=0), child_corrector_every(0.05)]
    )
    started: dict[str, Service] = {}
    try:
        for name, spec, instance in (
            ("casework", casework_spec, "1"),
            ("intake", quick, "1"),
            ("intake-2", quick, "2"),
        ):
            settings = Settings(
                nats_url=nats_url,
                database_url=pg_server_url,
                data_dir=tmp_path,
                database_prefix=prefix,
                instance=instance,
            )
            app = create_app(spec, settings)
            await app.state.runtime.start()
            started[name] = Service(app, name.split("-")[0], LocalIssuer.load(settings.keys_dir))
        yield started
    finally:
        for service in reversed(started.values()):
            await service.http.aclose()
            await service.runtime.stop()


def who(service: Service, role: str, user: str, **headers: str) -> dict[str, str]:
    token = service.issuer.mint(
        user=user, agency=POLICE, roles=[role]
    )  # (a unit must be in the directory: 0013)
    return {"Authorization": f"Bearer {token}", **headers}


async def casework_tables(casework: Service) -> dict[str, str]:
    """Every row of every table of casework's database, as text."""
    assert casework.runtime.engine is not None
    async with casework.runtime.engine.connect() as conn:
        names = (
            await conn.execute(
                text(
                    "SELECT table_name FROM information_schema.tables "
                    "WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
                )
            )
        ).scalars()
        return {
            name: " ".join((await conn.execute(text(f'SELECT t::text FROM "{name}" t'))).scalars())
            for name in list(names)
        }


async def answered(casework: Service, case_id: str) -> dict[str, Any]:
    """The case, once intake answered every correction it sent."""
    auditor = who(casework, "auditor", "aud-1")

    async def probe() -> dict[str, Any] | None:
        case = await casework.ok("GET", f"/cases/{case_id}", auditor)
        sent = case["child_corrections"]
        return case if sent and all(c["status"] != "sent" for c in sent) else None

    found: dict[str, Any] = await eventually(probe, "the case to show intake's answer")
    return found


def found_child() -> dict[str, Any]:
    """A police worker found a boy two hours ago; the name is written as heard."""
    return {
        "child": {"name": MISSPELT, "sex": "male", "age_years": 12},
        "concerns": ["trafficking_labour_other"],
        "urgency": "high",
        "commune": "bj-borgou-parakou",
        "found_at": (datetime.now(UTC) - timedelta(hours=2)).isoformat(),
    }


async def test_a_worker_corrects_the_childs_name_and_birth_date_from_the_case(
    services: dict[str, Service], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    casework, intake = services["casework"], services["intake"]
    officer = who(casework, "case_worker", "officer-1")
    opened = await casework.ok("POST", "/cases", officer, found_child(), status=201)
    case_id, child_id = opened["case_id"], opened["child_id"]

    # At once, from the case: intake may not have recorded the child yet.
    correction = {
        "changes": {"name": NAME, "date_of_birth": DOB, "school_status": "out_of_school"},
        "reason": "Acte de naissance présenté par l'oncle",
    }
    headers = who(
        casework,
        "case_worker",
        "officer-1",
        **{"If-Match": f'"{opened["version"]}"', "Idempotency-Key": "visite-1"},
    )
    sent = await casework.ok(
        "POST", f"/cases/{case_id}/child-corrections", headers, correction, status=202
    )
    assert sent["child_id"] == child_id and sent["fields"] == [
        "date_of_birth",
        "name",
        "school_status",
    ]

    intake_officer = who(intake, "intake_officer", "io-1")

    async def corrected() -> dict[str, Any] | None:
        answer = await intake.http.get(f"/children/{child_id}", headers=intake_officer)
        record: dict[str, Any] = answer.json()
        return record if answer.status_code == 200 and record["corrections"] else None

    record = await eventually(corrected, "intake to apply the worker's correction")
    details = record["details"]
    assert (details["name"], details["date_of_birth"], details["age_years"]) == (NAME, DOB, None)
    assert details["school_status"] == "out_of_school"
    [history] = record["corrections"]
    assert history["by"] == {"user": "officer-1", "agency": POLICE, "role": "case_worker"}
    assert history["reason"] == "Acte de naissance présenté par l'oncle"
    assert history["request_id"] == sent["event_id"]
    assert record["case_id"] == case_id

    # Two correctors ran all along: one correction in the log, caused by the worker's event.
    intake_store = intake.runtime.store
    assert intake_store is not None
    stored = await intake_store.load(
        Aggregate("intake", intake.runtime.settings.site, "child", child_id)
    )
    applied = [r for r in stored if isinstance(r.event, ChildDetailsCorrected)]
    assert [r.envelope["causationid"] for r in applied] == [sent["event_id"]]
    assert not [r for r in stored if isinstance(r.event, ChildCorrectionRefused)]

    # Casework says a correction was sent, which fields and when, and that intake applied it;
    # it holds no value.
    case = await answered(casework, case_id)
    assert case["child_corrections"] == [
        {
            "request_id": sent["event_id"],
            "fields": ["date_of_birth", "name", "school_status"],
            "at": case["child_corrections"][0]["at"],
            "status": "applied",
            "answered_at": applied[0].time,
            "code": None,
            "reason": None,
        }
    ]
    tables = await casework_tables(casework)
    assert "cw_cases" in tables and case_id in tables["cw_cases"]
    # One table, made to be erased with the record, holds the name the case page shows as
    # intake's record now reads, and nothing else of the child (decision 0019).
    names = tables.pop("cw_child_names")
    assert NAME in names and MISSPELT not in names and DOB not in names
    assert not {name: leaks(rows) for name, rows in tables.items() if leaks(rows)}
    lines = log_texts([*caplog.get_records("setup"), *caplog.records])
    assert any("child corrector: 1 correction" in line for line in lines), "logs captured"
    assert not [(line, leaks(line)) for line in lines if leaks(line)]


async def test_a_correction_an_intake_officer_already_made_shows_refused_on_the_case(
    services: dict[str, Service], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    casework, intake = services["casework"], services["intake"]
    officer = who(casework, "case_worker", "officer-1")
    opened = await casework.ok("POST", "/cases", officer, found_child(), status=201)
    case_id, child_id = opened["case_id"], opened["child_id"]
    intake_officer = who(intake, "intake_officer", "io-1")

    async def recorded() -> bool:
        answer = await intake.http.get(f"/children/{child_id}", headers=intake_officer)
        return answer.status_code == 200

    await eventually(recorded, "intake to record the child")
    # The intake officer, told by the family, fixes the spelling in intake first.
    fixed = await intake.ok(
        "POST",
        f"/children/{child_id}/corrections",
        intake_officer,
        {"changes": {"name": NAME}, "reason": "Appel de l'oncle"},
    )
    assert fixed["fields"] == ["name"]
    # The worker, who has not heard, sends the same spelling from the case.
    headers = who(
        casework,
        "case_worker",
        "officer-1",
        **{"If-Match": f'"{opened["version"]}"', "Idempotency-Key": "visite-2"},
    )
    sent = await casework.ok(
        "POST",
        f"/cases/{case_id}/child-corrections",
        headers,
        {"changes": {"name": NAME}, "reason": "Vu à la visite"},
        status=202,
    )

    case = await answered(casework, case_id)
    [refused] = case["child_corrections"]
    assert {k: refused[k] for k in ("request_id", "fields", "status", "code", "reason")} == {
        "request_id": sent["event_id"],
        "fields": ["name"],
        "status": "refused",
        "code": "nothing_changed",
        "reason": {
            "en": "The correction changes nothing in the child record.",
            "fr": "La correction ne modifie rien dans la fiche enfant.",
        },
    }
    # Two correctors ran all along: one refusal, caused by the worker's event; the officer's
    # correction is the only one.
    intake_store = intake.runtime.store
    assert intake_store is not None
    stored = await intake_store.load(
        Aggregate("intake", intake.runtime.settings.site, "child", child_id)
    )
    refusals = [r for r in stored if isinstance(r.event, ChildCorrectionRefused)]
    assert [r.envelope["causationid"] for r in refusals] == [sent["event_id"]]
    assert refused["answered_at"] == refusals[0].time
    corrections = [r for r in stored if isinstance(r.event, ChildDetailsCorrected)]
    assert [(r.actor.user, "causationid" in r.envelope) for r in corrections] == [("io-1", False)]
    record = (await intake.http.get(f"/children/{child_id}", headers=intake_officer)).json()
    assert [r["request_id"] for r in record["refused_corrections"]] == [sent["event_id"]]
    assert record["details"]["name"] == NAME and len(record["corrections"]) == 1

    tables = await casework_tables(casework)
    assert "cw_child_corrections" in tables and sent["event_id"] in tables["cw_child_corrections"]
    tables.pop("cw_child_names")  # the name the case page shows (decision 0019)
    assert not {name: leaks(rows) for name, rows in tables.items() if leaks(rows)}
    lines = log_texts([*caplog.get_records("setup"), *caplog.records])
    assert any(sent["event_id"] in line and "nothing_changed" in line for line in lines)
    assert not [(line, leaks(line)) for line in lines if leaks(line)]
