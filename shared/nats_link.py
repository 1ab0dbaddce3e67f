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
if a new version changes it, rather than let buffered publishes slip through silently.

The same buffer delays a request. nats-py writes it out from a flusher task, which runs only
once every task ready in the same turn of the event loop has run; under load that is dozens
of commands sealing their events, while the first one's message waits unsent and the server
has nothing to do. :class:`Requests` writes its message to the socket at once
(:func:`write_now`): the event store's appends went from 0.6 of the raw publish rate to 0.78
to 0.94 (decision 0026, throughput7)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from itertools import count

from nats import errors as nats_errors
from nats.aio.client import NO_RESPONDERS_STATUS
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.api import Header

log = logging.getLogger(__name__)

_PUBLISHES = (b"PUB ", b"HPUB ")


class ClientIncompatible(RuntimeError):
    """The NATS client library no longer has the buffer this module empties."""


def check_client(nc: NATS) -> None:
    if (
        not isinstance(getattr(nc, "_pending", None), list)
        or not hasattr(nc, "_pending_data_size")
        or not hasattr(nc, "_transport")
    ):
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


def closed_under(exc: BaseException) -> bool:
    """A RuntimeError out of the NATS client: uvloop refuses to write on a socket that the
    server's death closed before nats-py noticed, and nats-py's flusher stops on it, so every
    publish then writes (and fails) inline until the reconnection. It refuses before writing
    anything: nothing was sent."""
    if not isinstance(exc, RuntimeError):
        return False
    frame = exc.__traceback__
    while frame is not None:
        if str(frame.tb_frame.f_globals.get("__name__", "")).startswith("nats."):
            return True
        frame = frame.tb_next
    return False


def write_now(nc: NATS) -> None:
    """Write what the client holds for the server to the socket now, in order, rather than
    when its flusher task next runs (the flusher then finds nothing left). Raises
    ``ConnectionReconnectingError``, the buffered publishes dropped, if the socket is closed
    already."""
    transport = getattr(nc, "_transport", None)
    if nc._pending_data_size and transport is not None and nc.is_connected:
        try:
            transport.writelines(nc._pending)
        except RuntimeError:
            # uvloop's socket closed under a client that has not noticed yet (the server
            # died): it refuses before writing anything. Nothing was sent; nothing may be
            # sent after the reconnection either.
            drop_buffered_publishes(nc)
            raise nats_errors.ConnectionReconnectingError from None
        nc._pending = []
        nc._pending_data_size = 0


class Requests:
    """Request and reply over one connection, as ``Client.request`` does (one wildcard
    inbox, a future per request), except that the request leaves at once."""

    def __init__(self, nc: NATS) -> None:
        self.nc = nc
        self._inbox = ""
        self._subscribed: asyncio.Future[Subscription] | None = None
        self._waiting: dict[str, asyncio.Future[Msg]] = {}
        self._tokens = count(1)

    async def request(
        self, subject: str, payload: bytes, *, headers: dict[str, str], timeout: float
    ) -> Msg:
        await self._subscribe()
        token = str(next(self._tokens))
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[Msg] = loop.create_future()
        self._waiting[token] = answer
        # A timer that fails the answer: cheaper than ``asyncio.wait_for``.
        expiry = loop.call_later(timeout, _expire, answer)
        try:
            await self.nc.publish(subject, payload, reply=f"{self._inbox}.{token}", headers=headers)
            write_now(self.nc)
            msg = await answer
        finally:
            expiry.cancel()
            self._waiting.pop(token, None)
        if msg.headers and msg.headers.get(Header.STATUS) == NO_RESPONDERS_STATUS:
            raise nats_errors.NoRespondersError
        return msg

    async def _subscribe(self) -> None:
        # Once, shared by concurrent first requests (shielded: one of them cancelled does not
        # cancel it for the others); tried again by the next request if it failed. nats-py
        # subscribes again by itself after a reconnection.
        if self._subscribed is None:
            self._inbox = self.nc.new_inbox()
            self._subscribed = asyncio.ensure_future(
                self.nc.subscribe(f"{self._inbox}.*", cb=self._answer)
            )
        subscribing = self._subscribed
        try:
            await asyncio.shield(subscribing)
        except BaseException:
            if subscribing.done() and (subscribing.cancelled() or subscribing.exception()):
                self._subscribed = None
            raise

    async def _answer(self, msg: Msg) -> None:
        waiting = self._waiting.get(msg.subject.rpartition(".")[2])
        if waiting is not None and not waiting.done():
            waiting.set_result(msg)


def _expire(answer: asyncio.Future[Msg]) -> None:
    if not answer.done():
        answer.set_exception(nats_errors.TimeoutError())


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
