"""Reading stored messages straight from a stream, in order, without a consumer."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg


class ReadError(RuntimeError):
    pass


async def iter_stored(
    nc: NATS,
    stream: str,
    subject_filter: str,
    start: int = 1,
    *,
    batch: int = 256,
    timeout: float = 5.0,
) -> AsyncGenerator[tuple[int, str, Msg], None]:
    """(sequence, subject, message) on ``subject_filter`` from ``start``, by batched direct
    get: the fewest round trips, and no consumer state left on the server."""
    inbox = nc.new_inbox()
    sub = await nc.subscribe(inbox)
    try:
        while True:
            request = {"seq": start, "next_by_subj": subject_filter, "batch": batch}
            await nc.publish(
                f"$JS.API.DIRECT.GET.{stream}", json.dumps(request).encode(), reply=inbox
            )
            pending = 0
            while True:
                try:
                    msg = await sub.next_msg(timeout=timeout)
                except TimeoutError:
                    raise ReadError(f"reading {stream} {subject_filter} timed out") from None
                headers = msg.headers or {}
                status = headers.get("Status")
                if status:
                    if status == "204":  # end of this batch; more may follow
                        pending = int(headers.get("Nats-Num-Pending", "0"))
                    elif status == "503":
                        raise ReadError(f"stream {stream} does not allow direct get")
                    elif status != "404":  # 404: nothing (more) on this subject
                        raise ReadError(f"direct get on {stream} failed: {status}")
                    break
                seq = int(headers["Nats-Sequence"])
                yield seq, headers["Nats-Subject"], msg
                start = seq + 1
            if pending <= 0:
                return
    finally:
        await sub.unsubscribe()
