"""Long-running loops that survive outages but always stop when cancelled."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


def raise_if_cancelling(exc: BaseException | None = None) -> None:
    """Re-raise a cancellation that something swallowed. nats-py turns one into
    ConnectionClosedError inside ``next_msg`` when the connection is closing, and
    ``asyncio.wait_for`` can drop one that races its timeout (Python 3.11); a loop that retries
    on errors must not keep going once its task is being cancelled."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError from exc


async def repeat(
    step: Callable[[], Awaitable[object]],
    *,
    interval_s: float,
    label: str,
    wake: asyncio.Event | None = None,
) -> None:
    """Run ``step`` every ``interval_s`` seconds (sooner when ``wake`` is set) until cancelled;
    an error is logged by type only (its text may quote a child's data) and retried."""
    while True:
        raise_if_cancelling()
        try:
            await step()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # NATS or the database away: try again next turn
            raise_if_cancelling(exc)
            log.warning("%s paused: %s", label, type(exc).__name__)
        # A step can swallow a cancellation and still return normally (a nats-py request,
        # ``wait_for``): sleeping now would hold the stopping service for a whole interval.
        raise_if_cancelling()
        if wake is None:
            await asyncio.sleep(interval_s)
            continue
        try:
            await asyncio.wait_for(wake.wait(), interval_s)
        except TimeoutError:
            pass
        wake.clear()
