"""The JetStream streams that hold the log: one per context, append-only, kept forever.

Only the operator creates or changes them (``relais up`` at start, ``relais streams apply``
in a deployment: :func:`ensure_streams`, run with the operator's credentials). Services only
check them (:func:`check_streams`): a stream that is missing or breaks a guarantee stops a
service from starting and turns every service's ``/health`` red, and ``relais audit verify``
fails on it."""

from __future__ import annotations

import logging
from dataclasses import replace

from nats.js import JetStreamContext
from nats.js.api import (
    DiscardPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
    StreamInfo,
)
from nats.js.errors import NotFoundError

log = logging.getLogger(__name__)

CONTEXTS: tuple[str, ...] = ("intake", "referral", "casework", "audit")
# The de-identified feed for integrators: created and checked like the log's own streams.
PUBLIC = "public"
OPERATED: tuple[str, ...] = (*CONTEXTS, PUBLIC)


class StreamMisconfigured(RuntimeError):
    """A stream is missing or would let events be lost or rewritten."""


def stream_name(context: str) -> str:
    return context.upper()


def expected_subjects(context: str, site: str) -> list[str]:
    # Only this site's subjects: other sites' events arrive by sourcing, never by capturing
    # their publishes (see deploy/ on leaf nodes).
    return [f"{context}.{site}.>"]


def desired_config(
    context: str, site: str, *, replicas: int = 1, duplicate_window_s: float = 86_400.0
) -> StreamConfig:
    return StreamConfig(
        name=stream_name(context),
        description=f"Relais {context} events (append-only)",
        subjects=expected_subjects(context, site),
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        num_replicas=replicas,
        max_msgs=-1,
        max_bytes=-1,
        max_age=0,
        max_msgs_per_subject=-1,
        discard=DiscardPolicy.NEW,
        duplicate_window=duplicate_window_s,
        deny_delete=True,
        deny_purge=True,
        allow_rollup_hdrs=False,
        allow_direct=True,
        allow_atomic=True,
    )


def violations(
    cfg: StreamConfig, *, subjects: list[str] | None = None, replicas: int | None = None
) -> list[str]:
    """What, in a stream's configuration, breaks the log's guarantees. With ``subjects`` and
    ``replicas``, a stream listening elsewhere or kept on fewer copies is one too."""
    problems = []
    if cfg.storage != StorageType.FILE:
        problems.append("storage is not file")
    if cfg.retention not in (None, RetentionPolicy.LIMITS):
        problems.append(f"retention is {cfg.retention}")
    if cfg.max_age:
        problems.append("messages expire (max_age)")
    for limit in ("max_msgs", "max_bytes", "max_msgs_per_subject"):
        value = getattr(cfg, limit)
        if value is not None and value > 0:
            problems.append(f"{limit} limits the stream")
    if cfg.discard not in (None, DiscardPolicy.NEW):
        problems.append("discard is not new (old events would make room for new ones)")
    if cfg.sealed:
        problems.append("the stream is sealed (nothing more can be appended)")
    if not cfg.deny_delete:
        problems.append("deletes are allowed")
    if not cfg.deny_purge:
        problems.append("purges are allowed")
    if cfg.allow_rollup_hdrs:
        problems.append("roll-ups are allowed")
    if getattr(cfg, "allow_msg_ttl", None):
        problems.append("per-message expiry (allow_msg_ttl) is allowed")
    if getattr(cfg, "subject_delete_marker_ttl", None):
        problems.append("subject delete markers are on")
    if cfg.mirror is not None:
        problems.append("the stream is a mirror")
    if cfg.subject_transform is not None:
        problems.append("subjects are transformed")
    if cfg.no_ack:
        problems.append("appends are not acknowledged (no_ack)")
    if cfg.first_seq not in (None, 0, 1):
        problems.append(f"the stream was created to start at sequence {cfg.first_seq}")
    if getattr(cfg, "persist_mode", None) not in (None, "", "default"):
        problems.append(f"persist mode is {cfg.persist_mode}")
    if not cfg.allow_atomic:
        problems.append("atomic batches are off")
    if not cfg.allow_direct:
        problems.append("direct get is off")
    if subjects is not None and sorted(cfg.subjects or []) != sorted(subjects):
        problems.append(f"subjects are {cfg.subjects}, expected {subjects}")
    if replicas is not None and (cfg.num_replicas or 1) != replicas:
        problems.append(f"{cfg.num_replicas or 1} replica(s), expected {replicas}")
    return problems


def state_violations(info: StreamInfo) -> list[str]:
    """What, in a stream's state, shows events were removed from its head."""
    state = info.state
    if int(state.last_seq or 0) > 0 and int(state.first_seq or 0) != 1:
        return [f"the stream starts at sequence {state.first_seq}, not 1: its head was removed"]
    return []


async def check_streams(
    js: JetStreamContext,
    site: str,
    *,
    contexts: tuple[str, ...] = CONTEXTS,
    replicas: int = 1,
) -> dict[str, list[str]]:
    """Per stream, what breaks its guarantees (an empty dict when all hold). Reads only: the
    service users may not change a stream."""
    problems: dict[str, list[str]] = {}
    for context in contexts:
        name = stream_name(context)
        try:
            info = await js.stream_info(name)
        except NotFoundError:
            problems[name] = ["the stream does not exist (run relais streams apply)"]
            continue
        found = violations(
            info.config, subjects=expected_subjects(context, site), replicas=replicas
        ) + state_violations(info)
        if found:
            problems[name] = found
    return problems


def describe(problems: dict[str, list[str]]) -> str:
    return "; ".join(f"{name}: {', '.join(found)}" for name, found in sorted(problems.items()))


async def ensure_streams(
    js: JetStreamContext,
    site: str,
    *,
    contexts: tuple[str, ...] = CONTEXTS,
    replicas: int = 1,
    duplicate_window_s: float = 86_400.0,
) -> None:
    """The operator's step: create missing streams; bring existing ones up to the guarantees,
    keeping any sources an operator configured; refuse a stream that cannot be made safe in
    place (wrong storage or retention, sealed, or whose head was removed)."""
    for context in contexts:
        want = desired_config(
            context, site, replicas=replicas, duplicate_window_s=duplicate_window_s
        )
        assert want.name is not None
        try:
            info = await js.stream_info(want.name)
        except NotFoundError:
            await js.add_stream(want)
            log.info("created stream %s", want.name)
            continue
        have = info.config
        if (
            have.storage != StorageType.FILE
            or have.retention not in (None, RetentionPolicy.LIMITS)
            or have.sealed
            or state_violations(info)
        ):
            found = violations(have) + state_violations(info)
            raise StreamMisconfigured(f"{want.name}: {', '.join(found)}")
        merged = replace(want, sources=have.sources)
        if violations(have, subjects=want.subjects, replicas=replicas):
            await js.update_stream(merged)
            log.warning("updated stream %s to restore its guarantees", want.name)
        after = await js.stream_info(want.name)
        left = violations(after.config, subjects=want.subjects, replicas=replicas)
        if left:
            raise StreamMisconfigured(f"{want.name}: {', '.join(left)}")
