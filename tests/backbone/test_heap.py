"""What a service process does for its garbage collector (decision 0026, throughput7): the
heap startup built is frozen, long-lived caches hold what the collector does not track, and
every pause is counted."""

from __future__ import annotations

import gc
from typing import Any

import pytest

from shared import heap, runner
from shared import metrics as prom
from shared.envelope import Aggregate
from shared.eventstore import AggregateHead
from shared.sealing_store import _HeadCache
from shared.service import ServiceSpec

pytestmark = pytest.mark.domain


def _pauses(generation: str) -> float:
    value = prom.REGISTRY.get_sample_value(
        "relais_gc_pause_seconds_count", {"generation": generation}
    )
    return value or 0.0


def test_every_full_collection_is_counted_once() -> None:
    heap.watch_pauses()
    heap.watch_pauses()  # twice: still one callback
    assert gc.callbacks.count(heap._observe) == 1
    before = _pauses("2")
    gc.collect()
    assert _pauses("2") >= before + 1  # another full collection may run meanwhile


def test_a_served_process_freezes_what_startup_built(monkeypatch: pytest.MonkeyPatch) -> None:
    served: list[Any] = []
    monkeypatch.setattr(runner, "create_app", lambda spec, settings: object())
    monkeypatch.setattr(
        runner.uvicorn.Server, "run", lambda server, sockets=None: served.append(server.config)
    )
    try:
        runner.serve(ServiceSpec(name="intake", title="t", description="d", context="intake"))
        assert served, "the app was not served"
        assert gc.get_freeze_count() > 0
        assert heap._observe in gc.callbacks
    finally:
        gc.unfreeze()  # this test process goes on making and dropping apps


def test_an_instance_sharing_its_port_binds_it_to_share(monkeypatch: pytest.MonkeyPatch) -> None:
    """``RELAIS_REUSE_PORT``: the socket is bound with SO_REUSEPORT (another instance binds
    the same port), and not yet listening (uvicorn listens once the application started)."""
    import socket

    from relais.embedded import free_port

    given: list[list[socket.socket] | None] = []
    monkeypatch.setattr(runner, "create_app", lambda spec, settings: object())
    monkeypatch.setattr(
        runner.uvicorn.Server, "run", lambda server, sockets=None: given.append(sockets)
    )
    monkeypatch.setenv("RELAIS_REUSE_PORT", "1")
    monkeypatch.setenv("RELAIS_PORT", str(port := free_port()))
    runner.get_settings.cache_clear()
    try:
        runner.serve(ServiceSpec(name="intake", title="t", description="d", context="intake"))
        [[sock]] = given
        other = runner.shared_port("127.0.0.1", port)
        try:
            assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 1
            assert sock.getsockname() == other.getsockname() == ("127.0.0.1", port)
            assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN) == 0
        finally:
            sock.close()
            other.close()
    finally:
        runner.get_settings.cache_clear()
        gc.unfreeze()


def test_the_head_cache_holds_nothing_the_collector_walks() -> None:
    cache = _HeadCache(size=2)
    aggregates = [Aggregate("intake", "hq", "report", f"r-{i}") for i in range(3)]
    for i, aggregate in enumerate(aggregates):
        cache.put(aggregate, AggregateHead(seq=10 + i, version=i + 1, hash=f"h{i}"))
    gc.collect()
    assert not any(gc.is_tracked(entry) for entry in cache.entries.values())
    # The oldest went when the third came; the others read back as they were put.
    assert cache.get(aggregates[0], 10) is None
    assert cache.get(aggregates[2], 12) == AggregateHead(seq=12, version=3, hash="h2")
    assert cache.get(aggregates[1], 99) is None  # a head at another sequence is not this one
