"""Signatures anyone can check: new events are stored and signed in RFC 8785 (JCS) and say so;
events stored before in the home-made form still verify; and an auditor's own tools, in
another language (Node's Ed25519 and SHA-256, the ``canonicalize`` npm package), check the
signatures and hash chains of the stored events by the recipe of docs/auditing.md."""

from __future__ import annotations

import base64
import io
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from nats.aio.client import Client as NATS

from relais.export import export_streams
from shared.envelope import (
    Aggregate,
    canonical_json,
    envelope_bytes,
    jcs,
    sha256_hex,
)
from shared.eventstore import EventStore
from shared.keys import keys_document, load_keyring, publish_signing_key, published_keys
from shared.verify import verify
from tests.backbone.helpers import ACTOR, lab_store
from tests.lab import CounterCalibrated, CounterMoved, CounterOpened

ROOT = Path(__file__).resolve().parents[2]
RECIPE = ROOT / "docs" / "auditing" / "verify-log.mjs"
CANONICALIZE = "canonicalize@5.1.0"


async def _log_with_both_forms(nc: NATS) -> tuple[EventStore, Aggregate]:
    """A counter whose first events were stored in the old form, then new ones in JCS, with
    the numbers and text where the two forms differ (1.0, accents, control characters)."""
    store = await lab_store(nc)
    await publish_signing_key(store)
    agg = Aggregate("lab", "hq", "counter", "mixed")
    legacy = []
    prevhash = ""
    for version, (type_, data) in enumerate(
        [
            ("CounterOpened.v1", {"label": "Aïcha — Zè"}),
            ("CounterCalibrated.v1", {"factor": 1.0, "note": "ancienne forme\u0001"}),
        ],
        start=1,
    ):
        envelope: dict[str, Any] = {
            "specversion": "1.0",
            "id": f"legacy-{version}",
            "source": store.source,
            "type": f"org.relais.lab.{type_}",
            "subject": agg.id,
            "time": "2025-01-01T00:00:00.000000Z",
            "datacontenttype": "application/json",
            "data": data,
            "aggregatetype": "counter",
            "aggregateversion": version,
            "actor": "u-1",
            "actoragency": "ocpm",
            "actorrole": "case_worker",
            "correlationid": "legacy-1",
            "prevhash": prevhash,
            "keyid": store.key.key_id,
        }
        envelope["signature"] = store.key.sign(envelope)  # no attribute: the old form
        raw = canonical_json(envelope)
        prevhash = sha256_hex(raw)
        legacy.append(raw)
        await store.js.publish(agg.subject(type_.split(".")[0]), raw)
    assert b"1.0" in legacy[1] and jcs(json.loads(legacy[1])) != legacy[1]
    stored = await store.load(agg)
    await store.append(
        agg,
        stored[-1].seq,
        [
            CounterCalibrated(factor=2.0, note="nouvelle forme: «é»\u0001"),
            CounterMoved(amount=3, unit="u"),
        ],
        actor=ACTOR,
    )
    other = Aggregate("lab", "hq", "counter", "plain")
    await store.append(other, 0, [CounterOpened(label="ordinaire")], actor=ACTOR)
    return store, agg


async def test_new_events_are_stored_in_rfc8785_and_name_it(nc: NATS) -> None:
    store, agg = await _log_with_both_forms(nc)
    events = await store.load(agg)
    assert [e.envelope.get("canonicalization") for e in events] == [
        None,
        None,
        "rfc8785",
        "rfc8785",
    ]
    new = events[2]
    assert new.raw == jcs(new.envelope) == envelope_bytes(new.envelope)
    assert b'"factor":2,' in new.raw  # JCS writes numbers as ECMAScript does: 2.0 is 2
    assert new.envelope["prevhash"] == sha256_hex(events[1].raw)  # the stored bytes, hashed


async def test_verify_proves_both_forms_and_refuses_a_changed_form(nc: NATS) -> None:
    await _log_with_both_forms(nc)
    keyring = await load_keyring(nc)
    report = await verify(nc, ["LAB", "AUDIT"], keyring)
    assert report.ok, report.failures
    assert report.chains >= 3

    js = nc.jetstream()
    last = (await js.stream_info("LAB")).state.last_seq
    jcs_event = json.loads((await js.get_msg("LAB", last)).data)
    # Dropping the attribute (so that the event would be read in the old form) or naming
    # another form breaks the signature, which covers the attribute.
    downgraded = {k: v for k, v in jcs_event.items() if k != "canonicalization"}
    assert keyring.verify(downgraded) == "bad signature"
    assert keyring.verify({**jcs_event, "canonicalization": "c14n"}) == (
        "unknown canonicalization 'c14n'"
    )
    assert keyring.verify(jcs_event) is None


@pytest.fixture(scope="session")
def node_canonicalize(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The auditor's JCS library, installed from the npm registry as an auditor would."""
    node, npm = shutil.which("node"), shutil.which("npm")
    assert node and npm, "Node 20 and npm are needed for the cross-language check"
    where = tmp_path_factory.mktemp("auditor")
    (where / "package.json").write_text('{"name": "auditor", "private": true}')
    done = subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", "--loglevel=error", CANONICALIZE],
        cwd=where,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    shutil.copy(RECIPE, where / RECIPE.name)
    return where


def _node_verify(where: Path, keys: dict[str, Any], events: str) -> tuple[int, dict[str, Any]]:
    (where / "keys.json").write_text(json.dumps(keys))
    (where / "events.jsonl").write_text(events)
    done = subprocess.run(
        ["node", RECIPE.name, "keys.json", "events.jsonl"],
        cwd=where,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stdout, done.stderr
    return done.returncode, json.loads(done.stdout)


def _alter(events: str, seq: int, change: Any) -> str:
    lines = []
    for line in events.splitlines():
        stored = json.loads(line)
        if stored["stream"] == "LAB" and stored["seq"] == seq:
            stored["data"] = base64.b64encode(change(base64.b64decode(stored["data"]))).decode()
        lines.append(json.dumps(stored))
    return "\n".join(lines) + "\n"


async def test_an_auditor_checks_the_log_in_node(nc: NATS, node_canonicalize: Path) -> None:
    await _log_with_both_forms(nc)
    keys = keys_document(await published_keys(nc))
    out = io.StringIO()
    counts = await export_streams(nc, ["LAB", "AUDIT"], out)
    assert counts["LAB"] == 5 and counts["AUDIT"] >= 1
    events = out.getvalue()

    code, summary = _node_verify(node_canonicalize, keys, events)
    assert code == 0, summary
    assert summary["events"] == counts["LAB"] + counts["AUDIT"]
    assert summary["forms"] == {"legacy": 2, "rfc8785": counts["LAB"] - 2 + counts["AUDIT"]}
    assert summary["chains"] == 2 + counts["AUDIT"]

    # A JCS event whose data changed: its signature fails, and the next event's chain.
    def change_amount(raw: bytes) -> bytes:
        return raw.replace(b'"amount":3', b'"amount":4')

    code, summary = _node_verify(node_canonicalize, keys, _alter(events, 4, change_amount))
    assert code == 1
    assert {(f["seq"], f["problem"]) for f in summary["failures"]} == {(4, "bad signature")}

    # A legacy event altered, and one stored differently from its JCS form.
    def change_label(raw: bytes) -> bytes:
        return raw.replace("Aïcha".encode(), b"Aicha")

    def spaced(raw: bytes) -> bytes:
        return json.dumps(json.loads(raw), ensure_ascii=False).encode()

    altered = _alter(_alter(events, 1, change_label), 5, spaced)
    code, summary = _node_verify(node_canonicalize, keys, altered)
    problems = {(f["seq"], f["problem"]) for f in summary["failures"]}
    assert code == 1
    assert (1, "bad signature") in problems
    assert (2, "chain broken: prevhash does not match the previous event") in problems
    assert (5, "stored bytes are not the RFC 8785 form of the envelope") in problems
