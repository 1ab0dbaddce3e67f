"""``relais audit verify`` on demand, for auditors through the API (and the portal): one run
at a time per reporting instance, in the background, with its progress (streams checked so
far, events) and, once done, its result as the command line reports it. The running one is
in memory; a finished run is stored in reporting's database (``read/verifications.py``), so
its result survives a restart and every instance answers it."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from nats.aio.client import Client as NATS
from sqlalchemy.ext.asyncio import AsyncEngine

from services.reporting.read.verifications import load_latest, prepare_table, store_latest
from shared.ids import new_id
from shared.keys import load_keyring
from shared.streams import CONTEXTS, stream_name
from shared.verify import VerifyReport, verify

log = logging.getLogger(__name__)
MAX_FAILURES_SHOWN = 100


@dataclass
class Verification:
    verification_id: str
    started_at: str
    by: str
    streams: list[str]
    status: str = "running"  # running, done, failed
    streams_done: list[str] = field(default_factory=list)
    events_checked: int = 0
    finished_at: str | None = None
    result: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "verification_id": self.verification_id,
            "status": self.status,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "by": self.by,
            "streams_total": len(self.streams),
            "streams_done": list(self.streams_done),
            "events_checked": self.events_checked,
            "result": self.result,
        }


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class Verifications:
    latest: Verification | None = None
    engine: AsyncEngine | None = None
    _task: asyncio.Task[None] | None = None
    _prepared: bool = False

    async def _table(self) -> AsyncEngine | None:
        if self.engine is not None and not self._prepared:
            await prepare_table(self.engine)
            self._prepared = True
        return self.engine

    async def latest_run(self) -> dict[str, Any] | None:
        """The run in progress here, else the latest finished run any instance stored."""
        if self.latest is not None and self.latest.status == "running":
            return self.latest.as_dict()
        engine = await self._table()
        if engine is not None:
            stored = await load_latest(engine)
            if stored is not None:
                return stored
        return self.latest.as_dict() if self.latest is not None else None

    def start(self, nc: NATS, site: str, by: str) -> Verification:
        """A new run, or the one already running."""
        if self.latest is not None and self.latest.status == "running":
            return self.latest
        run = Verification(new_id(), _now(), by, [stream_name(c) for c in CONTEXTS])
        self.latest = run
        self._task = asyncio.create_task(self._checked(nc, site, run))
        return run

    async def _checked(self, nc: NATS, site: str, run: Verification) -> None:
        await self._run(nc, site, run)
        try:
            engine = await self._table()
            if engine is not None:
                await store_latest(engine, run.as_dict())
        except Exception as exc:  # the result stays answered from memory
            log.error("audit verification not stored: %s", type(exc).__name__)

    async def _run(self, nc: NATS, site: str, run: Verification) -> None:
        def progressed(stream: str, report: VerifyReport) -> None:
            run.streams_done.append(stream)
            run.events_checked = report.events

        try:
            report = await verify(
                nc, run.streams, await load_keyring(nc), site=site, progress=progressed
            )
        except Exception as exc:  # the type only: a message could quote an event
            log.error("audit verification failed: %s", type(exc).__name__)
            run.status, run.finished_at = "failed", _now()
            run.result = {"ok": False, "error": type(exc).__name__}
            return
        result = report.as_dict()
        result["failures_total"] = len(result["failures"])
        result["failures"] = result["failures"][:MAX_FAILURES_SHOWN]
        run.result = result
        run.events_checked = report.events
        run.status, run.finished_at = "done", _now()
        log.info("audit verification done: ok=%s events=%s", report.ok, report.events)
