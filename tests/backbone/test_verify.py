"""Tamper evidence: verification passes on a clean log, fails on forged, missing or damaged
events, and says where."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from nats.aio.client import Client as NATS
from nats.js.api import StorageType, StreamConfig

from relais.audit import verify_log
from relais.embedded import NatsServer
from shared.envelope import b64, canonical_json
from shared.keys import (
    PinsInvalid,
    keys_document,
    load_keyring,
    load_pins,
    publish_signing_key,
    published_keys,
)
from shared.signing import SigningKey
from shared.streams import OPERATED, ensure_streams
from shared.verify import verify
from tests.backbone.helpers import lab_store, write_counters


async def _copy_to_scratch(nc: NATS, *, alter=None, skip: int | None = None) -> None:
    """Copy LAB into SCRATCH (subjects prefixed "forged."), optionally altering or skipping."""
    js = nc.jetstream()
    await js.add_stream(
        StreamConfig(
            name="SCRATCH", subjects=["forged.>"], storage=StorageType.FILE, allow_direct=True
        )
    )
    info = await js.stream_info("LAB")
    for seq in range(1, info.state.last_seq + 1):
        msg = await js.get_msg("LAB", seq)
        if seq == skip:
            continue
        data = alter(seq, msg.data) if alter else msg.data
        await js.publish(f"forged.{msg.subject}", data)


async def test_clean_log_verifies(nc: NATS) -> None:
    store = await lab_store(nc)
    await publish_signing_key(store)
    await write_counters(store, counters=3, moves=5)
    report = await verify(nc, ["LAB", "AUDIT"], await load_keyring(nc))
    assert report.ok, report.failures
    assert report.chains == 4 and report.events > 3 * 5


async def test_altered_payload_is_detected_where_it_is(nc: NATS) -> None:
    store = await lab_store(nc)
    await publish_signing_key(store)
    await write_counters(store, counters=2, moves=3)

    def alter(seq: int, data: bytes) -> bytes:
        if seq != 4:
            return data
        envelope = json.loads(data)
        envelope["data"]["amount"] = 1000
        return canonical_json(envelope)

    await _copy_to_scratch(nc, alter=alter)
    report = await verify(nc, ["SCRATCH"], await load_keyring(nc))
    assert not report.ok
    problems = {(f.seq, f.problem) for f in report.failures}
    assert (4, "bad signature") in problems
    # the next event of the same aggregate no longer links to the altered one
    assert any("prevhash" in p for _, p in problems)


async def test_event_re_signed_by_an_unknown_key_is_detected(nc: NATS) -> None:
    store = await lab_store(nc)
    await publish_signing_key(store)
    await write_counters(store, counters=1, moves=2)
    intruder = SigningKey.generate()

    def forge(seq: int, data: bytes) -> bytes:
        if seq != 2:
            return data
        envelope = json.loads(data)
        envelope["data"]["amount"] = 7
        envelope["keyid"] = intruder.key_id
        envelope.pop("signature")
        envelope["signature"] = intruder.sign(envelope)
        return canonical_json(envelope)

    await _copy_to_scratch(nc, alter=forge)
    report = await verify(nc, ["SCRATCH"], await load_keyring(nc))
    assert any(f.seq == 2 and "unknown signing key" in f.problem for f in report.failures)


async def test_missing_event_breaks_the_chain(nc: NATS) -> None:
    store = await lab_store(nc)
    await publish_signing_key(store)
    await write_counters(store, counters=1, moves=4)
    await _copy_to_scratch(nc, skip=3)
    report = await verify(nc, ["SCRATCH"], await load_keyring(nc))
    assert any("chain broken" in f.problem for f in report.failures)


async def test_damaged_block_on_disk_shows_as_a_gap(nats_server: NatsServer, nc: NATS) -> None:
    store = await lab_store(nc)
    await publish_signing_key(store)
    await write_counters(store, counters=2, moves=10)
    await nc.close()
    nats_server.stop()
    blocks = sorted((nats_server.data_dir / "jetstream").glob("**/streams/LAB/msgs/*.blk"))
    assert blocks
    raw = bytearray(blocks[0].read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # one flipped bit pattern in the middle of the stored events
    blocks[0].write_bytes(bytes(raw))
    nats_server.start()

    report = await verify_log(nats_server.url, ["LAB"])
    # The server drops the damaged message silently; the gap and the broken chain show it.
    assert any(f.problem.startswith("missing sequence") for f in report.failures)
    assert any("chain broken" in f.problem for f in report.failures)


def test_cli_exits_non_zero_on_failure_and_zero_when_clean(bare_nats_url: str) -> None:
    import asyncio

    import nats

    nats_url = bare_nats_url

    async def prepare() -> None:
        nc = await nats.connect(nats_url)
        store = await lab_store(nc)
        await publish_signing_key(store)
        await nc.close()

    asyncio.run(prepare())
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-m", "relais.cli", "audit", "verify", "--nats-url", nats_url, "--json"],
        capture_output=True,
        text=True,
        cwd=root,
        timeout=60,
    )
    report = json.loads(done.stdout)
    # INTAKE, REFERRAL and CASEWORK do not exist on this bare server: that is a failure.
    assert done.returncode == 1 and not report["ok"]
    assert {f["stream"] for f in report["failures"]} == {"INTAKE", "REFERRAL", "CASEWORK"}
    assert report["streams"] == {"AUDIT": 1}

    async def operator_creates_the_streams() -> None:
        nc = await nats.connect(nats_url)
        await ensure_streams(nc.jetstream(), "hq", contexts=OPERATED)
        await nc.close()

    asyncio.run(operator_creates_the_streams())
    done = subprocess.run(
        [sys.executable, "-m", "relais.cli", "audit", "verify", "--nats-url", nats_url, "--json"],
        capture_output=True,
        text=True,
        cwd=root,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout


async def test_only_pinned_keys_are_trusted(nc: NATS, tmp_path: Path) -> None:
    # The auditor pinned the keys they checked with each site; a key that appeared on AUDIT
    # since (whoever could write there) signs nothing the verification accepts.
    store = await lab_store(nc)
    await publish_signing_key(store)
    await write_counters(store, counters=2, moves=2)
    pins = tmp_path / "pins.json"
    pins.write_text(json.dumps(keys_document(await published_keys(nc))), encoding="utf-8")

    pinned = await verify(nc, ["LAB", "AUDIT"], load_pins(pins))
    assert pinned.ok, pinned.failures

    intruder = await lab_store(nc)  # another instance, with a key nobody checked
    await publish_signing_key(intruder)
    await write_counters(intruder, counters=1, moves=1, prefix="x")
    published = [(k.keyid, k.source, k.seq) for k in await published_keys(nc)]
    report = await verify(nc, ["LAB", "AUDIT"], load_pins(pins), published=published)
    problems = [f.problem for f in report.failures]
    assert any(f"signing key {intruder.key.key_id}" in p and "not pinned" in p for p in problems)
    assert any("unknown signing key" in p for p in problems)
    # Without pins the log vouches for itself, and the intruder's events pass.
    assert (await verify(nc, ["LAB", "AUDIT"], await load_keyring(nc))).ok


def test_a_pin_whose_key_id_is_not_its_keys_is_refused(tmp_path: Path) -> None:
    key, other = SigningKey.generate(), SigningKey.generate()
    pins = tmp_path / "pins.json"
    entry = {"keyid": other.key_id, "publickey": b64(key.public_raw), "source": "s"}
    pins.write_text(json.dumps({"keys": [entry]}), encoding="utf-8")
    with pytest.raises(PinsInvalid, match="is not its key's"):
        load_pins(pins)
    pins.write_text("not json", encoding="utf-8")
    with pytest.raises(PinsInvalid, match="not a pinned-keys file"):
        load_pins(pins)


def test_cli_prints_the_keys_to_pin_and_refuses_a_bad_pin_file(
    nats_url: str, tmp_path: Path
) -> None:
    import asyncio

    import nats

    async def prepare() -> str:
        nc = await nats.connect(nats_url)
        store = await lab_store(nc)
        await publish_signing_key(store)
        await nc.close()
        return store.key.key_id

    kid = asyncio.run(prepare())
    root = Path(__file__).resolve().parents[2]

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "relais.cli", "audit", *args, "--nats-url", nats_url]
        return subprocess.run(command, capture_output=True, text=True, cwd=root, timeout=60)

    keys = cli("keys")
    assert keys.returncode == 0 and [k["keyid"] for k in json.loads(keys.stdout)["keys"]] == [kid]
    (tmp_path / "bad.json").write_text("{}", encoding="utf-8")
    refused = cli("verify", "--pinned-keys", str(tmp_path / "bad.json"))
    assert refused.returncode == 2 and "pinned-keys" in refused.stderr
