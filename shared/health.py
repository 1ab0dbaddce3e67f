"""``/health``: whether this service can do its work, and if not, why, in words an operator
reads: NATS connection, database, the streams' guarantees (every service checks every log
stream, so a stream changed behind everyone's back turns every service red), and projectors
(lag, dead letters, a projector stopped because its stream is shorter than its checkpoint)."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from sqlalchemy import text

from shared.streams import check_streams, describe

# The service's Runtime (shared.service, which imports this module).
Runtime = Any

log = logging.getLogger(__name__)

STREAMS_CHECK_EVERY_S = 2.0


class HealthCheck:
    def __init__(self, runtime: Runtime, *, contexts: tuple[str, ...]) -> None:
        self.runtime = runtime
        self.contexts = tuple(sorted(set(contexts)))
        self._streams: dict[str, list[str]] = {}
        self._streams_at = 0.0
        self._reported = ""

    async def _stream_problems(self) -> dict[str, list[str]]:
        now = time.monotonic()
        if now - self._streams_at < STREAMS_CHECK_EVERY_S:
            return self._streams
        nc = self.runtime.nc
        assert nc is not None
        s = self.runtime.settings
        self._streams = await check_streams(
            nc.jetstream(timeout=2), s.site, contexts=self.contexts, replicas=s.nats_replicas
        )
        self._streams_at = now
        found = describe(self._streams)
        if found and found != self._reported:
            # Loud: a stream that lost a guarantee means events can be lost or rewritten.
            log.error("stream guarantees broken: %s", found)
        self._reported = found
        return self._streams

    async def _database_ok(self) -> bool:
        engine = self.runtime.engine
        if engine is None:
            return False
        try:
            async with engine.connect() as conn:
                await asyncio.wait_for(conn.execute(text("SELECT 1")), 2)
        except Exception as exc:  # health reports it; it must not raise
            log.warning("health: database unreachable (%s)", type(exc).__name__)
            return False
        return True

    async def run(self) -> tuple[bool, dict[str, Any]]:
        rt = self.runtime
        problems: list[str] = []
        nats_ok = rt.nc is not None and rt.nc.is_connected
        streams: dict[str, list[str]] = {}
        last_seqs: dict[str, int] = {}
        if nats_ok and rt.nc is not None:
            js = rt.nc.jetstream(timeout=2)
            try:
                streams = await self._stream_problems()
                for stream in {p.stream for p in rt.projectors}:
                    last_seqs[stream] = int((await js.stream_info(stream)).state.last_seq)
            except Exception as exc:  # reported as NATS trouble
                log.warning("health: NATS request failed (%s)", type(exc).__name__)
                nats_ok = False
        if not nats_ok:
            problems.append("NATS (the event log) is unreachable")
        for name, found in sorted(streams.items()):
            problems.append(f"stream {name}: {', '.join(found)}")
        db_ok = await self._database_ok()
        if not db_ok:
            problems.append("the database (PostgreSQL) is unreachable")
        projectors = []
        for p in rt.projectors:
            if p.halted:
                problems.append(f"projector {p.label} stopped: {p.halted}")
            projectors.append(
                {
                    "projection": p.projection.name,
                    "stream": p.stream,
                    "checkpoint": p.checkpoint,
                    "lag": max(0, last_seqs.get(p.stream, p.checkpoint) - p.checkpoint)
                    if p.active
                    else None,
                    "active": p.active,
                    "dead_letters": p.dead_letter_count,
                    "halted": p.halted,
                }
            )
        ok = not problems
        return ok, {
            "service": rt.spec.name,
            "status": "ok" if ok else "unavailable",
            "problems": problems,
            "site": rt.settings.site,
            "instance": rt.settings.instance,
            "source": rt.source,
            "nats": {"connected": nats_ok},
            "database": {"connected": db_ok},
            "streams": {"ok": not streams, "problems": streams},
            "projectors": projectors,
        }
