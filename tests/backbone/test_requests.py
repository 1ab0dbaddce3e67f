"""The event store's requests (``shared.nats_link.Requests``): answered, refused for want of
a responder, or timed out like ``Client.request``; and the message leaves at once instead of
when nats-py's flusher task next runs (decision 0026, throughput7)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import nats
import pytest
from nats import errors as nats_errors
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from shared.nats_link import Requests, write_now
from tests.backbone.helpers import ClosedUnderneath

pytestmark = pytest.mark.connected


@asynccontextmanager
async def listening(url: str, subject: str) -> AsyncIterator[asyncio.Queue[bytes]]:
    """What another connection receives on ``subject``, in order."""
    seen: asyncio.Queue[bytes] = asyncio.Queue()
    other = await nats.connect(url)
    try:

        async def receive(msg: Msg) -> None:
            await seen.put(msg.data)

        await other.subscribe(subject, cb=receive)
        await other.flush()
        yield seen
    finally:
        await other.close()


async def test_a_request_gets_its_own_answer_among_many(bare_nc: NATS) -> None:
    async def echo(msg: Msg) -> None:
        await msg.respond(b"re:" + msg.data)

    await bare_nc.subscribe("lab.echo", cb=echo)
    requests = Requests(bare_nc)
    answers = await asyncio.gather(
        *(
            requests.request("lab.echo", str(i).encode(), headers={"X-N": str(i)}, timeout=2)
            for i in range(50)
        )
    )
    assert [a.data for a in answers] == [f"re:{i}".encode() for i in range(50)]
    assert not requests._waiting  # nothing left waiting


async def test_nobody_listening_is_a_refusal_not_a_wait(bare_nc: NATS) -> None:
    with pytest.raises(nats_errors.NoRespondersError):
        await Requests(bare_nc).request("lab.nobody", b"x", headers={"X-A": "1"}, timeout=2)


async def test_a_listener_that_never_answers_is_a_timeout(bare_nc: NATS) -> None:
    async def ignore(msg: Msg) -> None:
        pass

    await bare_nc.subscribe("lab.silent", cb=ignore)
    requests = Requests(bare_nc)
    with pytest.raises(nats_errors.TimeoutError):
        await requests.request("lab.silent", b"x", headers={"X-A": "1"}, timeout=0.2)
    assert not requests._waiting


async def test_a_message_is_on_its_way_before_the_event_loop_turns(
    bare_nc: NATS, bare_nats_url: str
) -> None:
    async with listening(bare_nats_url, "lab.now") as seen:
        await bare_nc.publish("lab.now", b"one")
        assert bare_nc._pending_data_size > 0  # nats-py holds it for its flusher task
        write_now(bare_nc)
        assert bare_nc._pending_data_size == 0 and bare_nc._pending == []
        assert await asyncio.wait_for(seen.get(), 2) == b"one"


async def test_a_failed_subscription_is_tried_again(
    bare_nc: NATS, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def echo(msg: Msg) -> None:
        await msg.respond(msg.data)

    await bare_nc.subscribe("lab.again", cb=echo)
    requests = Requests(bare_nc)
    real = bare_nc.subscribe

    async def refused(*args: object, **kwargs: object) -> None:
        raise nats_errors.ConnectionReconnectingError

    monkeypatch.setattr(bare_nc, "subscribe", refused)
    with pytest.raises(nats_errors.ConnectionReconnectingError):
        await requests.request("lab.again", b"x", headers={"X-A": "1"}, timeout=1)
    monkeypatch.setattr(bare_nc, "subscribe", real)
    answer = await requests.request("lab.again", b"y", headers={"X-A": "1"}, timeout=2)
    assert answer.data == b"y"


async def test_a_socket_closed_underneath_refuses_and_keeps_nothing_to_send_later(
    bare_nc: NATS, bare_nats_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 500 in the fault test (SIGKILLed nats-server under load): the request must be
    refused as unsent (a 503), and its publish must not wait in the buffer for the
    reconnection to send it after the request was answered."""
    async with listening(bare_nats_url, "lab.closed") as seen:
        requests = Requests(bare_nc)
        await requests._subscribe()
        real = bare_nc._transport
        monkeypatch.setattr(bare_nc, "_transport", ClosedUnderneath())
        with pytest.raises(nats_errors.ConnectionReconnectingError):
            await requests.request("lab.closed", b"lost", headers={"X-A": "1"}, timeout=1)
        assert not any(cmd.startswith((b"PUB ", b"HPUB ")) for cmd in bare_nc._pending)
        assert not requests._waiting
        monkeypatch.setattr(bare_nc, "_transport", real)
        await bare_nc.publish("lab.closed", b"next")
        await bare_nc.flush()
        assert await asyncio.wait_for(seen.get(), 2) == b"next"  # "lost" never went out
