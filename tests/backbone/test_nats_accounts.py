"""NATS permissions, least privilege, on a real nats-server 2.14 configured by the same
generator as ``relais up`` and ``relais nats-accounts``: every service user is sent every
``$JS.API`` verb on its own and another stream and consumer, and each answer (served or
refused) must be the one the policy below says. Only the operator creates and updates
streams; nobody deletes or purges one; the stored passwords are the ones the server runs with
(integrators' accounts: tests/reporting/test_integrator_access.py)."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest
from nats.js.errors import APIError

from contracts.intake import AcceptedChild, ReportAccepted
from relais.consumers import service_consumers
from relais.embedded import NatsServer, free_port
from shared.config import PROCESSES, SERVICES
from shared.envelope import Aggregate
from shared.keys import publish_signing_key
from shared.nats_accounts import ADMIN, SERVICE_CONTEXTS, accounts_config, load_or_create_passwords
from shared.nats_store import NatsEventStore
from shared.signing import SigningKey
from shared.streams import OPERATED, check_streams, ensure_streams, stream_name
from tests.backbone.helpers import ACTOR

pytestmark = pytest.mark.connected

CONSUMERS = service_consumers()

# Every $JS.API request of nats-server 2.14 (its jetstream_api.go), with what a service user
# may do: "read" always, "own" only on its own consumer, "never" never. S: a stream,
# C: a consumer.
VERBS: dict[str, str] = {
    "INFO": "read",
    "STREAM.CREATE.S": "never",
    "STREAM.UPDATE.S": "never",
    "STREAM.DELETE.S": "never",
    "STREAM.PURGE.S": "never",
    "STREAM.MSG.DELETE.S": "never",
    "STREAM.SNAPSHOT.S": "never",
    "STREAM.RESTORE.S": "never",
    "STREAM.LEADER.STEPDOWN.S": "never",
    "STREAM.PEER.REMOVE.S": "never",
    "STREAM.NAMES": "never",
    "STREAM.LIST": "never",
    "STREAM.INFO.S": "read",
    "STREAM.MSG.GET.S": "read",
    "DIRECT.GET.S": "read",
    "DIRECT.GET.S.intake.hq.report.x.ReportRegistered": "read",
    "CONSUMER.CREATE.S": "never",  # an unnamed (ephemeral) consumer
    "CONSUMER.CREATE.S.C": "own",
    "CONSUMER.CREATE.S.C.intake.hq.>": "own",
    "CONSUMER.DURABLE.CREATE.S.C": "own",
    "CONSUMER.INFO.S.C": "own",
    "CONSUMER.DELETE.S.C": "own",
    "CONSUMER.MSG.NEXT.S.C": "own",
    "CONSUMER.NAMES.S": "never",
    "CONSUMER.LIST.S": "never",
    "CONSUMER.PAUSE.S.C": "never",
    "CONSUMER.RESET.S.C": "never",
    "CONSUMER.UNPIN.S.C": "never",
    "CONSUMER.LEADER.STEPDOWN.S.C": "never",
    "ACCOUNT.PURGE.RELAIS": "never",
    "ACCOUNT.STREAM.MOVE.S.RELAIS": "never",
    "ACCOUNT.STREAM.CANCEL_MOVE.S.RELAIS": "never",
    "META.LEADER.STEPDOWN": "never",
    "SERVER.REMOVE": "never",
}
# nats-py reports the server's refusal in lower case.
VIOLATION = re.compile(r'permissions violation for publish to "([^"]+)"', re.IGNORECASE)


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[tuple[NatsServer, dict[str, str]]]:
    passwords = load_or_create_passwords(tmp_path / "nats-users.json")
    server = NatsServer(
        tmp_path / "nats",
        port=free_port(),
        extra_config=accounts_config("hq", passwords, CONSUMERS),
    ).start()
    yield server, passwords
    server.stop()


async def connect(server: NatsServer, user: str, password: str, errors: list[str]):
    async def on_error(exc: Exception) -> None:
        errors.append(str(exc))

    return await nats.connect(
        server.url, user=user, password=password, error_cb=on_error, max_reconnect_attempts=0
    )


async def operator_creates_streams(server: NatsServer, passwords: dict[str, str]) -> None:
    admin = await connect(server, ADMIN, passwords[ADMIN], [])
    await ensure_streams(admin.jetstream(), "hq", contexts=OPERATED)
    await admin.close()


def probes(service: str) -> dict[str, bool]:
    """subject -> allowed, for every verb on: its own stream and consumer, and another
    service's stream and consumer."""
    own_stream, own_consumer = CONSUMERS[service][0]
    other = next(s for s in SERVICES if s != service and CONSUMERS[s])
    other_stream, other_consumer = CONSUMERS[other][0]
    targets = [(own_stream, own_consumer, True), (other_stream, other_consumer, False)]
    found: dict[str, bool] = {}
    for verb, policy in VERBS.items():
        for stream, consumer, own in targets:
            names = {"S": stream, "C": consumer}
            subject = "$JS.API." + ".".join(names.get(t, t) for t in verb.split("."))
            found[subject] = policy == "read" or (policy == "own" and own)
    for stream, consumer, own in targets:  # acknowledging a consumer's messages
        found[f"$JS.ACK.{stream}.{consumer}.1.1.1.1.0"] = own
    for context in ("intake", "referral", "casework", "audit"):  # publishing
        found[f"{context}.hq.probe.p1.Probed"] = context in SERVICE_CONTEXTS[service]
    # The public feed: public.<integrator>.<site>... (decision 0021), this site's only.
    found["public.acme.hq.intake.Probed"] = "public" in SERVICE_CONTEXTS[service]
    found["public.acme.parakou.intake.Probed"] = False
    found["intake.parakou.probe.p1.Probed"] = False  # another site's subjects
    return found


# The portal too: it writes account events on AUDIT and projects them with its own consumer.
@pytest.mark.parametrize("service", PROCESSES)
async def test_every_jetstream_verb_is_refused_or_served_as_the_policy_says(
    secured: tuple[NatsServer, dict[str, str]], service: str
) -> None:
    server, passwords = secured
    await operator_creates_streams(server, passwords)
    errors: list[str] = []
    nc = await connect(server, service, passwords[service], errors)
    expected = probes(service)
    inbox = nc.new_inbox()
    answered: set[str] = set()
    subjects = list(expected)

    async def on_reply(msg: nats.aio.msg.Msg) -> None:
        answered.add(subjects[int(msg.subject.rsplit(".", 1)[1])])

    await nc.subscribe(f"{inbox}.*", cb=on_reply)
    for i, subject in enumerate(subjects):
        await nc.publish(subject, b"", reply=f"{inbox}.{i}")
    await nc.flush()

    def refused() -> set[str]:
        return {m.group(1).lower() for e in errors if (m := VIOLATION.search(e))}

    denied = {s.lower() for s, allowed in expected.items() if not allowed}
    for _ in range(100):
        if refused() >= denied:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)  # time for an unexpected refusal to show
    await nc.close()
    assert refused() == denied, errors[:3]
    # Every JetStream request allowed was answered by the server (an error is an answer).
    served = {s for s, allowed in expected.items() if allowed and s.startswith("$JS.API.")}
    assert served <= answered, served - answered


async def test_the_operator_creates_and_updates_streams_but_destroys_nothing(
    secured: tuple[NatsServer, dict[str, str]],
) -> None:
    server, passwords = secured
    errors: list[str] = []
    admin = await connect(server, ADMIN, passwords[ADMIN], errors)
    js = admin.jetstream(timeout=1)
    await ensure_streams(js, "hq", contexts=OPERATED)
    assert await check_streams(js, "hq", contexts=OPERATED) == {}
    info = await js.stream_info("INTAKE")
    from dataclasses import replace

    await js.update_stream(replace(info.config, max_msgs=1000))
    assert "INTAKE" in await check_streams(js, "hq", contexts=OPERATED)
    await ensure_streams(js, "hq", contexts=OPERATED)  # restores the guarantee
    assert await check_streams(js, "hq", contexts=OPERATED) == {}
    for attempt in (js.delete_stream("INTAKE"), js.purge_stream("AUDIT")):
        with pytest.raises((nats.errors.TimeoutError, nats.errors.NoRespondersError, APIError)):
            await attempt
    for context in OPERATED:  # all still there
        await js.stream_info(stream_name(context))
    await admin.close()


async def test_a_service_appends_and_projects_with_its_own_credentials(
    secured: tuple[NatsServer, dict[str, str]],
) -> None:
    server, passwords = secured
    await operator_creates_streams(server, passwords)
    nc = await connect(server, "intake", passwords["intake"], [])
    assert await check_streams(nc.jetstream(), "hq", contexts=OPERATED) == {}
    store = NatsEventStore(
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
    # Its projector's durable consumer, created, read and acknowledged with its credentials.
    from nats.js.api import AckPolicy, ConsumerConfig

    js = nc.jetstream(timeout=2)
    await js.add_consumer(
        "INTAKE", ConsumerConfig(durable_name="intake_main", ack_policy=AckPolicy.ALL)
    )
    psub = await js.pull_subscribe_bind("intake_main", stream="INTAKE")
    msgs = await psub.fetch(2, timeout=2)
    await msgs[-1].ack()
    await js.delete_consumer("INTAKE", "intake_main")
    await nc.close()


async def violation_reported(errors: list[str]) -> None:
    """The server reports a denied publish asynchronously, on the error callback."""
    for _ in range(50):
        if any("permissions violation" in e.lower() for e in errors):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"no permissions violation reported: {errors}")


async def test_an_office_login_at_the_hub_forwards_commands_but_forges_no_event(
    tmp_path: Path,
) -> None:
    """A regional office's leaf node login (``leaf_<site>``) links streams and carries
    forwarded commands, but a message on an event subject from it could only be a forged
    event: refused, and the hub's streams stay as they were."""
    passwords = load_or_create_passwords(tmp_path / "nats-users.json")
    passwords["leaf_parakou"] = "office-secret"
    server = NatsServer(
        tmp_path / "nats",
        port=free_port(),
        extra_config=accounts_config("hq", passwords, CONSUMERS),
    ).start()
    try:
        await operator_creates_streams(server, passwords)
        errors: list[str] = []
        office = await connect(server, "leaf_parakou", "office-secret", errors)
        forged = [
            "intake.hq.report.r1.ReportRegistered",
            "casework.hq.case.c1.CaseClosed",
            "audit.hq.access.a1.RecordRead",
            "public.acme.hq.intake.ReportAccepted",
            "intake.parakou.report.r1.ReportRegistered",
        ]
        for subject in forged:
            await office.publish(subject, b"{}")
        # What it is there for still works: linking (a stream's info) and forwarding.
        info = await office.jetstream(timeout=2).stream_info("INTAKE")
        await office.publish("relais.forward.hq.intake", b"")
        await office.flush()
        for _ in range(100):
            refused = {m.group(1).lower() for e in errors if (m := VIOLATION.search(e))}
            if refused >= {s.lower() for s in forged}:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)
        assert refused == {s.lower() for s in forged}, errors[:3]
        assert info.state.messages == 0
        await office.close()
        admin = await connect(server, ADMIN, passwords[ADMIN], [])
        for context in OPERATED:
            assert (await admin.jetstream().stream_info(stream_name(context))).state.messages == 0
        await admin.close()
    finally:
        server.stop()


async def test_passwords_are_kept_private_and_stable(tmp_path: Path) -> None:
    first = load_or_create_passwords(tmp_path / "p.json")
    assert load_or_create_passwords(tmp_path / "p.json") == first
    assert (tmp_path / "p.json").stat().st_mode & 0o077 == 0
    # A user added since (a new service, a file from an older version) gets a password of its
    # own; the others keep theirs, since a running server knows only those.
    older = {k: v for k, v in first.items() if k != "reporting"}
    (tmp_path / "p.json").write_text(json.dumps(older))
    again = load_or_create_passwords(tmp_path / "p.json")
    assert {k: again[k] for k in older} == older and again["reporting"]


def test_a_service_named_without_a_password_reads_its_own(tmp_path: Path) -> None:
    from shared.config import Settings

    stored = load_or_create_passwords(tmp_path / "nats" / "users.json")
    named = Settings(data_dir=tmp_path, nats_user="casework")
    assert named.nats_login() == ("casework", stored["casework"])
    given = Settings(data_dir=tmp_path, nats_user="casework", nats_password="set")
    assert given.nats_login() == ("casework", "set")
    assert Settings(data_dir=tmp_path / "none").nats_login() == (None, None)


def test_nats_accounts_prints_the_passwords_relais_up_runs_with(tmp_path: Path) -> None:
    """The bug of issue 14: it wrote a new password file in the current directory, whose
    passwords the embedded server then refused (Authorization Violation)."""
    running = load_or_create_passwords(tmp_path / "data" / "nats" / "users.json")
    done = subprocess.run(
        [sys.executable, "-m", "relais.cli", "nats-accounts", "--data-dir", str(tmp_path / "data")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
        check=True,
    )
    assert json.dumps(running["intake"]) in done.stdout
    assert not (tmp_path / "nats-users.json").exists()
