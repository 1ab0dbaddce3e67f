"""NATS permissions: a service publishes only to its own subjects; integrators see only the
de-identified feed; nobody's credentials can delete or purge the log."""

from __future__ import annotations

import asyncio
from pathlib import Path

import nats
import pytest
from nats.js.errors import APIError

from contracts.intake import AcceptedChild, ReportAccepted
from relais.embedded import NatsServer, free_port
from shared.envelope import Aggregate
from shared.eventstore import EventStore
from shared.keys import publish_signing_key
from shared.nats_accounts import accounts_config, load_or_create_passwords
from shared.signing import SigningKey
from shared.streams import ensure_streams
from tests.backbone.helpers import ACTOR


@pytest.fixture
def secured(tmp_path: Path):
    passwords = load_or_create_passwords(tmp_path / "nats-users.json")
    server = NatsServer(
        tmp_path / "nats", port=free_port(), extra_config=accounts_config("hq", passwords)
    ).start()
    yield server, passwords
    server.stop()


async def connect(server: NatsServer, user: str, password: str, errors: list[str]):
    async def on_error(exc: Exception) -> None:
        errors.append(str(exc))

    return await nats.connect(
        server.url, user=user, password=password, error_cb=on_error, max_reconnect_attempts=0
    )


async def first_delivery(publisher, subscription) -> bytes:
    """Publishes until the import delivers. Plain publishing is at most once, and on a loaded
    machine the first message can cross the account import before its interest has; what is
    checked here is that the feed gets through at all, not how fast."""
    for _ in range(20):
        await publisher.publish("public.hq.intake.ReportAccepted", b'{"deidentified":true}')
        await publisher.flush()
        try:
            return bytes((await subscription.next_msg(timeout=0.5)).data)
        except nats.errors.TimeoutError:
            continue
    raise AssertionError("the public feed never reached the integrator")


async def violation_reported(errors: list[str]) -> None:
    """The server reports a denied publish asynchronously, on the error callback."""
    for _ in range(50):
        if any("permissions violation" in e.lower() for e in errors):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"no permissions violation reported: {errors}")


async def test_passwords_are_kept_private_and_stable(tmp_path: Path) -> None:
    first = load_or_create_passwords(tmp_path / "p.json")
    assert load_or_create_passwords(tmp_path / "p.json") == first
    assert (tmp_path / "p.json").stat().st_mode & 0o077 == 0


async def test_a_service_writes_its_own_stream_and_not_another(secured) -> None:
    server, passwords = secured
    errors: list[str] = []
    intake = await connect(server, "intake", passwords["intake"], errors)
    await ensure_streams(intake.jetstream(), "hq", contexts=("intake", "audit"))
    casework = await connect(server, "casework", passwords["casework"], errors)
    await ensure_streams(casework.jetstream(), "hq", contexts=("casework",))

    js = intake.jetstream()
    denied = intake.jetstream(timeout=1)  # a denied request is never answered: don't wait long
    ack = await js.publish("intake.hq.report.r1.ReportRegistered", b"{}")
    assert ack.stream == "INTAKE"
    with pytest.raises((nats.errors.TimeoutError, nats.errors.NoRespondersError)):
        await denied.publish("casework.hq.case.c1.CaseOpened", b"{}")
    with pytest.raises((nats.errors.TimeoutError, nats.errors.NoRespondersError)):
        await denied.publish("intake.parakou.report.r1.ReportRegistered", b"{}")  # another site
    await violation_reported(errors)
    assert (await js.stream_info("CASEWORK")).state.messages == 0

    # The log cannot be deleted, purged or trimmed with a service's credentials.
    for attempt in (
        denied.delete_stream("INTAKE"),
        denied.purge_stream("INTAKE"),
        denied.delete_msg("INTAKE", 1),
    ):
        with pytest.raises((nats.errors.TimeoutError, nats.errors.NoRespondersError, APIError)):
            await attempt
    assert (await js.stream_info("INTAKE")).state.messages == 1
    # Nor can it create or reconfigure another service's stream.
    with pytest.raises((nats.errors.TimeoutError, nats.errors.NoRespondersError, APIError)):
        await ensure_streams(denied, "hq", contexts=("referral",))
    await intake.close()
    await casework.close()


async def test_an_event_store_with_service_credentials_appends_and_reads(secured) -> None:
    server, passwords = secured
    nc = await connect(server, "intake", passwords["intake"], [])
    await ensure_streams(nc.jetstream(), "hq", contexts=("intake", "audit"))
    store = EventStore(
        nc, key=SigningKey.generate(), source="/t", site="hq", writable_contexts=("intake", "audit")
    )
    await publish_signing_key(store)
    agg = Aggregate("intake", "hq", "report", "r1")
    event = ReportAccepted(
        report_id="r1",
        children=[AcceptedChild(child_id="c1", sex="female", age_band="10-14")],
        concerns=["child_labour"],
        urgency="high",
        commune="bj-zou-za-kpota",
        agency="ocpm",
        received_at="2026-11-23T08:00:00Z",
        accepted_at="2026-11-23T09:00:00Z",
    )
    first = await store.append(agg, 0, [event, event], actor=ACTOR)  # an atomic batch
    assert [e.event for e in await store.load(agg)] == [event, event]
    assert first.head.version == 2
    await nc.close()


async def test_integrators_see_the_public_feed_and_nothing_else(secured) -> None:
    server, passwords = secured
    errors: list[str] = []
    reporting = await connect(server, "reporting", passwords["reporting"], errors)
    integrator = await connect(server, "integrator", passwords["integrator"], errors)
    public = await integrator.subscribe("public.>")
    private = await integrator.subscribe("intake.>")
    await integrator.flush()
    intake = await connect(server, "intake", passwords["intake"], errors)
    await intake.publish("intake.hq.report.r1.ReportRegistered", b'{"name":"Aminata"}')
    await intake.flush()
    assert await first_delivery(reporting, public) == b'{"deidentified":true}'
    with pytest.raises(nats.errors.TimeoutError):
        await private.next_msg(timeout=0.5)
    watcher = await reporting.subscribe("public.>")
    await reporting.flush()
    await integrator.publish("public.hq.intake.Forged", b"forged")
    await integrator.flush()
    await violation_reported(errors)
    with pytest.raises(nats.errors.TimeoutError):
        await watcher.next_msg(timeout=0.3)
    for conn in (reporting, integrator, intake):
        await conn.close()


async def test_the_portal_writes_only_account_events_on_audit(secured) -> None:
    server, passwords = secured
    errors: list[str] = []
    intake = await connect(server, "intake", passwords["intake"], errors)
    await ensure_streams(intake.jetstream(), "hq", contexts=("intake", "audit"))
    portal = await connect(server, "portal", passwords["portal"], errors)
    ack = await portal.jetstream().publish("audit.hq.account.a1.AccountCreated", b"{}")
    assert ack.stream == "AUDIT"
    denied = portal.jetstream(timeout=1)
    with pytest.raises((nats.errors.TimeoutError, nats.errors.NoRespondersError)):
        await denied.publish("intake.hq.report.r1.ReportRegistered", b"{}")
    await violation_reported(errors)
    assert (await intake.jetstream().stream_info("INTAKE")).state.messages == 0
    await intake.close()
    await portal.close()
