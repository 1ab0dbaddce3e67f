"""``relais audit export``: the stored messages of streams, byte for byte, for an auditor to
check with tools of their own (docs/auditing.md). Nothing is decoded or re-serialized: each
line holds the stream, the sequence, the subject and the stored bytes in base64."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from typing import IO

from nats.aio.client import Client as NATS
from nats.js.errors import NotFoundError

from shared.reading import iter_stored


async def export_streams(nc: NATS, streams: Iterable[str], out: IO[str]) -> dict[str, int]:
    """Write every stored message of ``streams`` (in stream order) as JSON Lines; returns how
    many each stream had. A stream that does not exist is reported with -1."""
    counts: dict[str, int] = {}
    for stream in streams:
        try:
            await nc.jetstream().stream_info(stream)
        except NotFoundError:
            counts[stream] = -1
            continue
        count = 0
        async for seq, subject, msg in iter_stored(nc, stream, ">", 1):
            line = {
                "stream": stream,
                "seq": seq,
                "subject": subject,
                "data": base64.b64encode(msg.data or b"").decode(),
            }
            out.write(json.dumps(line) + "\n")
            count += 1
        counts[stream] = count
    return counts
