"""Proving the log whole: every stream keeps its guarantees (configuration and a head at
sequence 1), every aggregate's hash chain and every signature holds, no sequence is missing,
and every stream still extends each anchored head (the checkpoints on AUDIT and the heads
the auditor kept): a stream cut at its tail, or rewritten without some events and
renumbered, fails there even though every remaining chain is an intact prefix.

Sequence gaps matter: nats-server drops a message whose stored bytes were damaged without a
word, and ``deny_delete`` means nothing else can make one. Chains catch what gaps cannot: an
event removed or altered before it was sourced to another site.
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from nats.aio.client import Client as NATS
from nats.js.errors import NotFoundError

from shared.anchors import START, Head, fold
from shared.envelope import GENESIS, sha256_hex
from shared.reading import iter_stored
from shared.recorded import PoisonEvent, parse_envelope
from shared.signing import Keyring
from shared.streams import OPERATED, expected_subjects, state_violations, violations

CHECKPOINT_TYPE = "org.relais.audit.StreamCheckpointed."


@dataclass(frozen=True)
class Finding:
    stream: str
    seq: int | None
    subject: str
    problem: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "stream": self.stream,
            "seq": self.seq,
            "subject": self.subject,
            "problem": self.problem,
        }


@dataclass
class VerifyReport:
    events: int = 0
    chains: int = 0
    streams: dict[str, int] = field(default_factory=dict)
    failures: list[Finding] = field(default_factory=list)
    heads: dict[str, Head] = field(default_factory=dict)
    anchors_checked: int = 0

    @property
    def ok(self) -> bool:
        return not self.failures

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "events_checked": self.events,
            "chains": self.chains,
            "streams": self.streams,
            "heads": {name: head.as_dict() for name, head in self.heads.items()},
            "anchors_checked": self.anchors_checked,
            "failures": [f.as_dict() for f in self.failures],
        }


@dataclass(frozen=True)
class Anchor:
    """A head the stream must still extend, and who said so."""

    head: Head
    origin: str  # e.g. "checkpoint at AUDIT:412" or "heads file"


@dataclass
class _Walk:
    """A stream's running hash as it is read; with ``keep``, the hash at every sequence."""

    keep: bool = False
    running: str = START
    count: int = 0
    last: int = 0
    seqs: array[int] = field(default_factory=lambda: array("q"))
    digests: bytearray = field(default_factory=bytearray)

    def add(self, seq: int, subject: str, payload: bytes) -> None:
        self.running = fold(self.running, seq, subject, payload)
        self.count += 1
        self.last = seq
        if self.keep:
            self.seqs.append(seq)
            self.digests += bytes.fromhex(self.running)

    def hash_at(self, seq: int) -> str | None:
        i = bisect.bisect_left(self.seqs, seq)
        if i == len(self.seqs) or self.seqs[i] != seq:
            return None
        return self.digests[32 * i : 32 * (i + 1)].hex()


@dataclass
class _ChainHead:
    version: int
    hash: str
    seq: int


def _chain_key(subject: str) -> str:
    # Everything but the event name: context.site.aggregate-type.aggregate-id (any prefix kept).
    return subject.rsplit(".", 1)[0]


async def verify_stream(
    nc: NATS,
    stream: str,
    keyring: Keyring,
    report: VerifyReport,
    *,
    site: str | None = None,
    replicas: int | None = None,
    anchors: Iterable[Anchor] = (),
    checkpoints: list[Anchor] | None = None,
) -> _Walk | None:
    """Check one stream, adding what it finds to ``report``. ``site``: check the stream's
    configuration against the log's guarantees for that site. ``anchors``: heads it must
    extend. ``checkpoints``: collect the checkpoints found on this stream (AUDIT)."""
    try:
        info = await nc.jetstream().stream_info(stream)
    except NotFoundError:
        report.failures.append(Finding(stream, None, "", "stream does not exist"))
        return None
    if site is not None:
        context = stream.lower()
        subjects = expected_subjects(context, site) if context in OPERATED else None
        for problem in violations(info.config, subjects=subjects, replicas=replicas):
            report.failures.append(Finding(stream, None, "", f"configuration: {problem}"))
        for problem in state_violations(info):
            report.failures.append(Finding(stream, None, "", problem))
    last = int(info.state.last_seq)
    targets: dict[int, list[Anchor]] = {}
    for anchor in anchors:
        targets.setdefault(anchor.head.seq, []).append(anchor)
    walk = _Walk(keep=checkpoints is not None)
    heads: dict[str, _ChainHead] = {}
    expected_seq = 1
    checked = 0
    async for seq, subject, msg in iter_stored(nc, stream, ">", 1):
        if seq > expected_seq:
            report.failures.append(_gap(stream, expected_seq, seq - 1))
        expected_seq = seq + 1
        checked += 1
        raw = msg.data or b""
        walk.add(seq, subject, raw)
        problems = list(_check_event(raw, subject, heads, keyring, seq))
        for problem in problems:
            report.failures.append(Finding(stream, seq, subject, problem))
        if checkpoints is not None and not problems:
            found = _checkpoint(raw, stream, seq, site)
            if found is not None:
                checkpoints.append(found)
        for anchor in targets.pop(seq, []):
            _compare(report, stream, anchor, walk.running)
    if last >= expected_seq and last > 0:
        report.failures.append(_gap(stream, expected_seq, last))
    for seq, missed in sorted(targets.items()):
        for anchor in missed:
            what = (
                f"stream ends at sequence {walk.last}, but {anchor.origin} says it reached "
                f"{seq}: events were removed from its tail"
                if seq > walk.last
                else f"sequence {seq} is missing, yet {anchor.origin} anchors it"
            )
            report.anchors_checked += 1
            report.failures.append(Finding(stream, seq, "", what))
    report.events += checked
    report.chains += len(heads)
    report.streams[stream] = checked
    report.heads[stream] = Head(stream, walk.last, walk.running, walk.count)
    return walk


def _compare(report: VerifyReport, stream: str, anchor: Anchor, running: str) -> None:
    report.anchors_checked += 1
    if running != anchor.head.hash:
        report.failures.append(
            Finding(
                stream,
                anchor.head.seq,
                "",
                f"the stream up to sequence {anchor.head.seq} is not what {anchor.origin} "
                "anchored: events were removed, added or reordered before it (rewritten)",
            )
        )


def _checkpoint(raw: bytes, stream: str, seq: int, site: str | None) -> Anchor | None:
    """The anchor a verified ``StreamCheckpointed`` event of this site states."""
    envelope = parse_envelope(raw)
    if not str(envelope.get("type", "")).startswith(CHECKPOINT_TYPE):
        return None
    data = envelope["data"]
    if site is not None and not str(envelope.get("source", "")).startswith(f"/relais/{site}/"):
        return None  # another site's checkpoint: its streams number their own events
    try:
        head = Head(str(data["stream"]), int(data["seq"]), str(data["hash"]))
    except (KeyError, TypeError, ValueError):
        return None
    return Anchor(head, f"the checkpoint at {stream}:{seq}")


def _gap(stream: str, start: int, end: int) -> Finding:
    what = f"sequence {start}" if start == end else f"sequences {start}-{end}"
    return Finding(stream, start, "", f"missing {what}: stored events are gone or damaged")


def _check_event(
    raw: bytes, subject: str, heads: dict[str, _ChainHead], keyring: Keyring, seq: int
) -> Iterable[str]:
    try:
        envelope = parse_envelope(raw)
    except PoisonEvent as exc:
        yield f"unreadable event: {exc}"
        return
    reason = keyring.verify(envelope)
    if reason:
        yield reason
    key = _chain_key(subject)
    version = envelope.get("aggregateversion")
    prevhash = envelope.get("prevhash")
    head = heads.get(key)
    if not isinstance(version, int):
        yield "aggregateversion is not a number"
        return
    expected_version = head.version + 1 if head else 1
    expected_prev = head.hash if head else GENESIS
    if version != expected_version:
        yield (
            f"chain broken: version {version} follows {expected_version - 1}"
            + (f" (at seq {head.seq})" if head else "")
            + " — events of this aggregate are missing or out of order"
        )
    elif prevhash != expected_prev:
        yield "chain broken: prevhash does not match the previous event (altered or forged)"
    heads[key] = _ChainHead(version, sha256_hex(raw), seq)


async def verify(
    nc: NATS,
    streams: Iterable[str],
    keyring: Keyring,
    *,
    published: Iterable[tuple[str, str, int]] = (),
    site: str | None = None,
    replicas: int | None = None,
    anchors: Iterable[Head] = (),
    progress: Callable[[str, VerifyReport], None] | None = None,
) -> VerifyReport:
    """``progress``: called with each stream's name and the report so far, once the stream
    is checked (reporting's on-demand verification shows it).
    ``published``: (key id, source, AUDIT seq) of keys found on the log; with a pinned
    keyring, each one not pinned is a failure in itself (events it signed fail as well).
    ``site``: also check each stream's configuration and this site's checkpoints.
    ``anchors``: heads kept outside the log (``relais audit verify --save-heads``)."""
    report = VerifyReport()
    for kid, source, seq in published:
        if kid not in keyring:
            report.failures.append(
                Finding("AUDIT", seq, "", f"signing key {kid} of {source} is not pinned")
            )
    names = list(streams)
    kept = [Anchor(head, "the heads file") for head in anchors]
    # AUDIT first: it holds the checkpoints every other stream is held to.
    checkpoints: list[Anchor] = []
    ordered = sorted(names, key=lambda name: name != "AUDIT")
    audit_walk: _Walk | None = None
    for stream in ordered:
        wanted = [a for a in kept if a.head.stream == stream]
        if stream != "AUDIT":
            wanted += [a for a in checkpoints if a.head.stream == stream]
        walk = await verify_stream(
            nc,
            stream,
            keyring,
            report,
            site=site,
            replicas=replicas,
            anchors=wanted,
            checkpoints=checkpoints if stream == "AUDIT" else None,
        )
        if stream == "AUDIT":
            audit_walk = walk
        if progress is not None:
            progress(stream, report)
    # AUDIT's own checkpoints anchor earlier positions of AUDIT itself.
    for anchor in checkpoints:
        if anchor.head.stream != "AUDIT" or audit_walk is None:
            continue
        running = audit_walk.hash_at(anchor.head.seq)
        if running is None:
            report.anchors_checked += 1
            report.failures.append(
                Finding("AUDIT", anchor.head.seq, "", f"{anchor.origin} anchors a missing event")
            )
        else:
            _compare(report, "AUDIT", anchor, running)
    return report
