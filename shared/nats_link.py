"""A service's NATS connection, made so that no publish outlives the request that made it.

nats-py buffers what is published while it is not connected (up to ``pending_size`` bytes,
2 MB by default) and writes the buffer out when it reconnects; and a publish made just before
a connection drops may still sit in that buffer, unwritten, when it does. Either way the
message reaches the server later, perhaps long after the request that sent it gave up and
answered. A service therefore connects with ``pending_size=0`` (a publish while disconnected
fails at once with ``OutboundBufferLimitError``: nothing is sent, nothing is kept) and, when
the connection drops, throws away the publishes still waiting in the buffer (subscriptions
and pings stay: the client replays them itself). What was written to the socket before the
drop either reached the server or did not; the event store settles that by asking again
(:mod:`shared.eventstore`).

The buffer is nats-py's private ``_pending`` list (2.16); :func:`check_client` fails at start
if a new version changes it, rather than let buffered publishes slip through silently."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from nats.aio.client import Client as NATS

log = logging.getLogger(__name__)

_PUBLISHES = (b"PUB ", b"HPUB ")


class ClientIncompatible(RuntimeError):
    """The NATS client library no longer has the buffer this module empties."""


def check_client(nc: NATS) -> None:
    if not isinstance(getattr(nc, "_pending", None), list) or not hasattr(nc, "_pending_data_size"):
        raise ClientIncompatible(
            "nats-py's outgoing buffer (_pending) has changed: buffered publishes could reach "
            "the log after their request was answered; pin nats-py to a checked version"
        )


def drop_buffered_publishes(nc: NATS) -> int:
    """Remove the publishes not yet written to the socket; returns how many."""
    pending: list[bytes] = nc._pending
    kept = [cmd for cmd in pending if not cmd.startswith(_PUBLISHES)]
    dropped = len(pending) - len(kept)
    if dropped:
        nc._pending = kept
        nc._pending_data_size = sum(len(cmd) for cmd in kept)
    return dropped


async def connect(
    servers: list[str],
    *,
    name: str,
    user: str | None = None,
    password: str | None = None,
    on_change: Callable[[bool], Awaitable[None]] | None = None,
) -> NATS:
    """Connect, reconnecting for ever by itself, without an outgoing buffer."""
    nc = NATS()

    async def disconnected() -> None:
        dropped = drop_buffered_publishes(nc)
        log.warning("NATS: disconnected; reconnecting (%d unsent publish(es) dropped)", dropped)
        if on_change is not None:
            await on_change(False)

    async def reconnected() -> None:
        log.warning("NATS: reconnected")
        if on_change is not None:
            await on_change(True)

    async def error(exc: Exception) -> None:
        log.warning("NATS: %s", type(exc).__name__)

    await nc.connect(
        servers,
        name=name,
        user=user,
        password=password,
        pending_size=0,
        max_reconnect_attempts=-1,
        reconnect_time_wait=1,
        error_cb=error,
        disconnected_cb=disconnected,
        reconnected_cb=reconnected,
    )
    check_client(nc)
    return nc
