"""Background loops stop as soon as they are cancelled, whatever their step does."""

from __future__ import annotations

import asyncio

import pytest

from shared.loops import repeat

pytestmark = pytest.mark.app


async def test_a_step_that_swallows_the_cancellation_does_not_hold_the_loop() -> None:
    started = asyncio.Event()

    async def swallowing_step() -> None:
        # What a nats-py request or a racing wait_for can do: the cancellation is consumed
        # and the step returns as if nothing happened.
        started.set()
        try:
            await asyncio.sleep(1)
        except asyncio.CancelledError:
            return

    task = asyncio.create_task(repeat(swallowing_step, interval_s=60, label="test"))
    await started.wait()
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=1)
    assert task in done and task.cancelled()


async def test_a_failing_step_is_retried_until_cancelled() -> None:
    calls = 0

    async def failing_step() -> None:
        nonlocal calls
        calls += 1
        raise OSError("database away")

    task = asyncio.create_task(repeat(failing_step, interval_s=0.01, label="test"))
    await asyncio.sleep(0.1)
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=1)
    assert task in done and task.cancelled()
    assert calls > 2
