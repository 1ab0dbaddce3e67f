"""The auditor's API and ``relais audit case`` on a real log and database: one case told
across the three streams, as of any moment, and who read it."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
from nats.aio.client import Client as NATS
from typer.testing import CliRunner

from relais.audit import read_case_history
from relais.cli import app as cli
from services.reporting.service import spec
from shared.auth import LocalIssuer
from shared.config import Settings
from shared.keys import load_keyring
from shared.reading import iter_stored
from shared.service import create_app
from tests.reporting.audit_story import Log, write_story

pytestmark = pytest.mark.connected


@dataclass
class Service:
    client: httpx.AsyncClient
    settings: Settings
    auditor: dict[str, str]
    worker: dict[str, str]


@pytest.fixture
async def service(
    nats_url: str, pg_server_url: str, nc: NATS, tmp_path: Path
) -> AsyncIterator[tuple[Service, Log]]:
    log = await write_story(nc)
    settings = Settings(
        nats_url=nats_url,
        database_url=pg_server_url,
        data_dir=tmp_path,
        database_prefix=f"t{uuid.uuid4().hex[:10]}_",
    )
    app = create_app(spec, settings)
    runtime = app.state.runtime
    await runtime.start()
    try:
        js = nc.jetstream()
        for projector in runtime.projectors:
            last = (await js.stream_info(projector.stream)).state.last_seq
            assert await projector.wait_for(last, 15), projector.label
        issuer = LocalIssuer.load(settings.keys_dir)
        auditor = issuer.mint(user="ines.audit", agency="igs", roles=["auditor"])
        worker = issuer.mint(user="awa.dossou", agency="ocpm", roles=["case_worker", "supervisor"])
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://reporting") as client:
            yield (
                Service(
                    client,
                    settings,
                    {"Authorization": f"Bearer {auditor}"},
                    {"Authorization": f"Bearer {worker}"},
                ),
                log,
            )
    finally:
        await runtime.stop()


CASE_EVENTS = [
    "ReportAccepted",
    "AuditProbeCaseOpened",
    "ReferralMade",
    "ReferralAccepted",
    "AuditProbeStatusChanged",
    "CaseTeleported",
    "ReportScreened",
]


async def test_case_history_is_ordered_across_streams_with_who_and_what(
    service: tuple[Service, Log], nc: NATS
) -> None:
    svc, _ = service
    answer = await svc.client.get("/audit/cases/c-1", headers=svc.auditor)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert [e["event"] for e in body["events"]] == CASE_EVENTS
    assert [e["stream"] for e in body["events"]][:4] == [
        "INTAKE",
        "CASEWORK",
        "REFERRAL",
        "REFERRAL",
    ]
    assert body["children"] == ["child-a"] and body["referrals"] == ["f-1"]
    made = body["events"][2]
    assert made["actor"] == {"user": "awa.dossou", "agency": "ocpm", "role": "case_worker"}
    assert made["description"]["fr"].startswith("Un travailleur social a orienté")
    assert made["data"]["to_unit"] == "shelter-1"
    # The type nobody registered is in the history, from its stored data.
    assert body["events"][5]["data"] == {"case_id": "c-1", "where": "elsewhere"}
    assert body["state"]["casework/case/c-1"]["fields"]["status"] == "closed"
    assert body["indexed_up_to"]["CASEWORK"] == 5
    # One function, two callers: the CLI's history from the streams is the same.
    from_log = await read_case_history(nc, "c-1")
    assert from_log is not None
    assert from_log.as_dict() == {k: v for k, v in body.items() if k != "indexed_up_to"}


async def test_as_of_excludes_later_events_and_gives_the_state_then(
    service: tuple[Service, Log], nc: NATS
) -> None:
    svc, log = service
    as_of = log.times[3]  # ReferralAccepted
    answer = await svc.client.get("/audit/cases/c-1", params={"as_of": as_of}, headers=svc.auditor)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert [e["event"] for e in body["events"]] == CASE_EVENTS[:4]
    assert body["state"]["casework/case/c-1"]["fields"]["status"] == "open"
    assert body["state"]["referral/referral/f-1"]["last_event"] == "ReferralAccepted"
    runner = CliRunner()
    result = await asyncio.to_thread(
        runner.invoke,
        cli,
        [
            "audit",
            "case",
            "c-1",
            "--as-of",
            as_of,
            "--json",
            "--nats-url",
            svc.settings.nats_url,
            "--data-dir",
            str(svc.settings.data_dir),
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["events"] == body["events"]
    table = await asyncio.to_thread(
        runner.invoke, cli, ["audit", "case", "c-1", "--nats-url", svc.settings.nats_url]
    )
    assert table.exit_code == 0 and "CaseTeleported" in table.output


async def test_cli_refuses_a_bad_time_and_reports_an_unknown_case(
    service: tuple[Service, Log],
) -> None:
    svc, _ = service
    runner = CliRunner()
    url = ["--nats-url", svc.settings.nats_url]
    bad = await asyncio.to_thread(
        runner.invoke, cli, ["audit", "case", "c-1", "--as-of", "2026-03-01", *url]
    )
    assert bad.exit_code == 2 and "RFC 3339" in bad.output
    unknown = await asyncio.to_thread(
        runner.invoke, cli, ["audit", "case", "c-404", "--json", *url]
    )
    assert unknown.exit_code == 1 and "Aucun événement" in unknown.output


async def wait_for_access(svc: Service, params: dict[str, Any], count: int) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for _ in range(100):
        answer = await svc.client.get("/audit/access", params=params, headers=svc.auditor)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        if body["total"] >= count:
            return body
        await asyncio.sleep(0.1)
    raise AssertionError(f"access records: {body}")


async def test_reading_a_history_is_recorded_and_access_is_queryable_per_record_and_user(
    service: tuple[Service, Log],
) -> None:
    svc, _ = service
    before = await wait_for_access(svc, {"record_id": "child-a"}, 1)
    assert [i["user"] for i in before["items"]] == ["awa.dossou"]
    assert (await svc.client.get("/audit/cases/c-1", headers=svc.auditor)).status_code == 200

    by_record = await wait_for_access(svc, {"record_id": "child-a"}, 2)
    assert [i["user"] for i in by_record["items"]] == ["ines.audit", "awa.dossou"]
    assert by_record["items"][0]["purpose"] == "audit: case history"
    assert by_record["items"][0]["service"] == "reporting"

    # One record per record the history showed: the case, its report and referral, and both
    # children the accepted report names (the sibling's id and age band are in it).
    first = await wait_for_access(svc, {"user": "ines.audit", "page_size": 3}, 5)
    assert first["total"] == 5 and first["next_page"] == 2 and len(first["items"]) == 3
    second = (
        await svc.client.get(
            "/audit/access",
            params={"user": "ines.audit", "page_size": 3, "page": 2},
            headers=svc.auditor,
        )
    ).json()
    assert second["next_page"] is None
    read = {(i["record_type"], i["record_id"]) for i in (*first["items"], *second["items"])}
    assert read == {
        ("case", "c-1"),
        ("child", "child-a"),
        ("child", "child-b"),
        ("report", "r-1"),
        ("referral", "f-1"),
    }
    assert {i["outcome"] for i in (*first["items"], *second["items"])} == {"read"}
    both = await wait_for_access(svc, {"user": "ines.audit", "record_id": "c-1"}, 1)
    assert both["total"] == 1


async def test_only_auditors_read_the_audit(service: tuple[Service, Log]) -> None:
    svc, _ = service
    for path in ("/audit/cases/c-1", "/audit/access?user=awa.dossou"):
        assert (await svc.client.get(path)).status_code == 401
        refused = await svc.client.get(path, headers=svc.worker)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"


async def test_bad_requests_get_clear_answers_in_both_languages(
    service: tuple[Service, Log],
) -> None:
    svc, _ = service
    missing = await svc.client.get("/audit/cases/c-404", headers=svc.auditor)
    assert missing.status_code == 404
    assert (
        missing.json()["error"]["message"] == "Aucun événement du journal ne concerne ce dossier."
    )
    english = await svc.client.get(
        "/audit/cases/c-404", headers={**svc.auditor, "Accept-Language": "en"}
    )
    assert english.json()["error"] == {
        "code": "case_not_found",
        "message": "No event of the log names this case.",
        "case_id": "c-404",
    }
    for bad in ("yesterday", "2026-03-01T10:00:00"):
        answer = await svc.client.get(
            "/audit/cases/c-1",
            params={"as_of": bad},
            headers={**svc.auditor, "Accept-Language": "en"},
        )
        assert answer.status_code == 422
        [field] = answer.json()["error"]["fields"]
        assert field["field"] == "as_of" and field["reason"].startswith(
            "A date and time with its offset"
        )
    french = await svc.client.get(
        "/audit/cases/c-1", params={"as_of": "demain"}, headers=svc.auditor
    )
    assert french.json()["error"]["fields"][0]["reason"].startswith("Une date et heure")
    unfiltered = await svc.client.get("/audit/access", headers=svc.auditor)
    assert unfiltered.status_code == 422
    assert unfiltered.json()["error"]["fields"][0]["field"] == "record_id"
    too_big = await svc.client.get("/audit/access?user=x&page_size=1000", headers=svc.auditor)
    assert too_big.status_code == 422
    assert too_big.json()["error"]["fields"][0]["field"] == "page_size"


async def test_the_command_line_records_its_own_read_like_the_api(
    service: tuple[Service, Log],
) -> None:
    svc, _ = service
    runner = CliRunner()
    result = await asyncio.to_thread(
        runner.invoke,
        cli,
        [
            "audit",
            "case",
            "c-1",
            "--json",
            "--reader",
            "ines.cli",
            "--agency",
            "igs",
            "--nats-url",
            svc.settings.nats_url,
            "--data-dir",
            str(svc.settings.data_dir),
        ],
    )
    assert result.exit_code == 0, result.output
    body = await wait_for_access(svc, {"user": "ines.cli"}, 5)
    read = {(i["record_type"], i["record_id"]) for i in body["items"]}
    # The same records as the API records for the same history.
    assert read == {
        ("case", "c-1"),
        ("child", "child-a"),
        ("child", "child-b"),
        ("report", "r-1"),
        ("referral", "f-1"),
    }
    assert {i["service"] for i in body["items"]} == {"relais-cli"}
    assert {i["agency"] for i in body["items"]} == {"igs"}
    # An unknown case reads nothing, so nothing is recorded.
    unknown = await asyncio.to_thread(
        runner.invoke,
        cli,
        ["audit", "case", "c-404", "--reader", "ines.cli", "--nats-url", svc.settings.nats_url],
    )
    assert unknown.exit_code == 1
    # The command line signs with its own key, published on AUDIT so verification can check
    # its access records like any other event.
    async with await nats.connect(svc.settings.nats_url) as nc:
        keyring = await load_keyring(nc)
        stored = [
            json.loads(m.data)
            async for _, _, m in iter_stored(nc, "AUDIT", "audit.hq.access.*.RecordAccessed")
        ]
    mine = [e for e in stored if e["data"]["service"] == "relais-cli"]
    assert len(mine) == 5
    for envelope in mine:
        assert envelope["keyid"] in keyring and keyring.verify(envelope) is None


async def test_audit_verify_runs_on_demand_with_progress_then_its_result(
    service: tuple[Service, Log],
) -> None:
    svc, _ = service
    none_yet = await svc.client.get("/audit/verifications/latest", headers=svc.auditor)
    assert none_yet.status_code == 404 and none_yet.json()["error"]["code"] == "no_verification"
    started = await svc.client.post("/audit/verifications", headers=svc.auditor)
    assert started.status_code == 202, started.text
    run = started.json()
    assert run["status"] == "running" and run["by"] == "ines.audit" and run["streams_total"] == 4
    again = await svc.client.post("/audit/verifications", headers=svc.auditor)
    assert again.status_code == 202  # the same run while it runs, else a new one
    for _ in range(200):
        latest = (await svc.client.get("/audit/verifications/latest", headers=svc.auditor)).json()
        if latest["status"] != "running":
            break
        await asyncio.sleep(0.05)
    assert latest["status"] == "done", latest
    assert sorted(latest["streams_done"]) == ["AUDIT", "CASEWORK", "INTAKE", "REFERRAL"]
    result = latest["result"]
    assert result["events_checked"] == latest["events_checked"] > 0
    assert result["failures_total"] == len(result["failures"]) and "ok" in result
    # Stored in reporting's database: an instance started afterwards (a restart) answers it.
    restarted = create_app(spec, svc.settings)
    await restarted.state.runtime.start()
    try:
        transport = httpx.ASGITransport(app=restarted)
        async with httpx.AsyncClient(transport=transport, base_url="http://reporting") as other:
            kept = await other.get("/audit/verifications/latest", headers=svc.auditor)
    finally:
        await restarted.state.runtime.stop()
    assert kept.status_code == 200 and kept.json() == latest
    for caller in (svc.worker,):
        assert (await svc.client.post("/audit/verifications", headers=caller)).status_code == 403
        assert (
            await svc.client.get("/audit/verifications/latest", headers=caller)
        ).status_code == 403
