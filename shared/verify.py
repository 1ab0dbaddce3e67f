"""Proving the log whole: every aggregate's hash chain, every signature, no missing sequence.

Sequence gaps matter: nats-server drops a message whose stored bytes were damaged without a
word (docs/architecture.md, tamper evidence), and ``deny_delete`` means nothing else can make
one. Chains catch what gaps cannot: an event removed or altered before it was sourced to
another site.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from nats.aio.client import Client as NATS
from nats.js.errors import NotFoundError

from shared.envelope import GENESIS, sha256_hex
from shared.reading import iter_stored
from shared.recorded import PoisonEvent, parse_envelope
from shared.signing import Keyring


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

    @property
    def ok(self) -> bool:
        return not self.failures

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "events_checked": self.events,
            "chains": self.chains,
            "streams": self.streams,
            "failures": [f.as_dict() for f in self.failures],
        }


@dataclass
class _ChainHead:
    version: int
    hash: str
    seq: int


def _chain_key(subject: str) -> str:
    # Everything but the event name: context.site.aggregate-type.aggregate-id (any prefix kept).
    return subject.rsplit(".", 1)[0]


async def verify_stream(nc: NATS, stream: str, keyring: Keyring, report: VerifyReport) -> None:
    """Check one stream, adding what it finds to ``report``."""
    try:
        info = await nc.jetstream().stream_info(stream)
    except NotFoundError:
        report.failures.append(Finding(stream, None, "", "stream does not exist"))
        return
    first, last = int(info.state.first_seq), int(info.state.last_seq)
    heads: dict[str, _ChainHead] = {}
    expected_seq = first
    checked = 0
    async for seq, subject, msg in iter_stored(nc, stream, ">", first):
        if seq > expected_seq:
            report.failures.append(_gap(stream, expected_seq, seq - 1))
        expected_seq = seq + 1
        checked += 1
        raw = msg.data or b""
        for problem in _check_event(raw, subject, heads, keyring, seq):
            report.failures.append(Finding(stream, seq, subject, problem))
    if last >= expected_seq and last > 0:
        report.failures.append(_gap(stream, expected_seq, last))
    report.events += checked
    report.chains += len(heads)
    report.streams[stream] = checked


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
) -> VerifyReport:
    """``published``: (key id, source, AUDIT seq) of keys found on the log; with a pinned
    keyring, each one not pinned is a failure in itself (events it signed fail as well)."""
    report = VerifyReport()
    for kid, source, seq in published:
        if kid not in keyring:
            report.failures.append(
                Finding("AUDIT", seq, "", f"signing key {kid} of {source} is not pinned")
            )
    for stream in streams:
        await verify_stream(nc, stream, keyring, report)
    return report
