"""The JetStream streams that hold the log: one per context, append-only, kept forever."""

from __future__ import annotations

import logging
from dataclasses import replace

from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

log = logging.getLogger(__name__)

CONTEXTS: tuple[str, ...] = ("intake", "referral", "casework", "audit")


class StreamMisconfigured(RuntimeError):
    """An existing stream would let events be lost or rewritten, and cannot be fixed in place."""


def stream_name(context: str) -> str:
    return context.upper()


def desired_config(
    context: str, site: str, *, replicas: int = 1, duplicate_window_s: float = 86_400.0
) -> StreamConfig:
    return StreamConfig(
        name=stream_name(context),
        description=f"Relais {context} events (append-only)",
        # Only this site's subjects: other sites' events arrive by sourcing, never by
        # capturing their publishes (see docs/architecture.md on regional offices).
        subjects=[f"{context}.{site}.>"],
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


def violations(cfg: StreamConfig) -> list[str]:
    """What, in an existing stream's configuration, breaks the log's guarantees."""
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
    if not cfg.deny_delete:
        problems.append("deletes are allowed")
    if not cfg.deny_purge:
        problems.append("purges are allowed")
    if cfg.allow_rollup_hdrs:
        problems.append("roll-ups are allowed")
    if not cfg.allow_atomic:
        problems.append("atomic batches are off")
    if not cfg.allow_direct:
        problems.append("direct get is off")
    return problems


async def ensure_streams(
    js: JetStreamContext,
    site: str,
    *,
    contexts: tuple[str, ...] = CONTEXTS,
    replicas: int = 1,
    duplicate_window_s: float = 86_400.0,
) -> None:
    """Create missing streams; bring existing ones up to the guarantees, keeping any sources
    an operator configured; refuse to run on a stream that cannot be made safe."""
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
        if have.storage != StorageType.FILE or (
            have.retention not in (None, RetentionPolicy.LIMITS)
        ):
            raise StreamMisconfigured(f"{want.name}: {', '.join(violations(have))}")
        merged = replace(
            want,
            subjects=sorted(set(have.subjects or []) | set(want.subjects or [])),
            sources=have.sources,
            num_replicas=have.num_replicas or want.num_replicas,
        )
        if violations(have) or set(merged.subjects or []) != set(have.subjects or []):
            await js.update_stream(merged)
            log.warning("updated stream %s to restore its guarantees", want.name)
        left = violations((await js.stream_info(want.name)).config)
        if left:
            raise StreamMisconfigured(f"{want.name}: {', '.join(left)}")
