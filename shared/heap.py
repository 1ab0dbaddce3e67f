"""A service process's heap and its garbage collector (decision 0026, throughput7).

CPython frees most objects when their last reference goes; its collector is for cycles, and
every collection of the oldest generation walks every container object the process holds,
with the event loop stopped. A service holds many: what importing and building the app made
(modules, models, routes, code lists: about 150,000 objects for intake) and what its caches
keep. Measured at 100 registrations a second, intake's full collections each paused every
request for 70 to 350 ms, every two seconds, as a memo of name alignments grew.

So: what startup made is frozen (never walked again), caches keep strings, integers and
tuples of them where they can (the collector does not track those), and the pauses are
counted in ``relais_gc_pause_seconds`` so that a growing heap shows before its answers slow.
"""

from __future__ import annotations

import gc
import time
from typing import Any

from shared import metrics as prom

_started: list[float] = []
# One child per generation, made once: the callback runs at every collection, a hundred
# times a second under load, and ``labels()`` checks and locks on every call.
_PAUSES = {generation: prom.gc_pauses.labels(str(generation)) for generation in range(3)}


def freeze_startup() -> None:
    """Collect once, then freeze what is left: every object alive now lives as long as the
    process, so no later collection needs to walk it. Called once, when the app is built
    and before it serves (not in tests, whose many apps come and go in one process)."""
    gc.collect()
    gc.freeze()


def _observe(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _started.append(time.perf_counter())
    elif _started:
        pause = time.perf_counter() - _started.pop()
        _PAUSES[info["generation"]].observe(pause)


def watch_pauses() -> None:
    """Count every collection's pause in ``relais_gc_pause_seconds`` (once per process)."""
    if _observe not in gc.callbacks:
        gc.callbacks.append(_observe)
