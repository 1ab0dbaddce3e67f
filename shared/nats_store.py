"""The event store on NATS JetStream: the real log.

* Optimistic concurrency is the server's: every append states the aggregate's last stream
  sequence (``Nats-Expected-Last-Subject-Sequence`` over the aggregate's wildcard subject;
  a stale one is refused with error 10071).
* Several events of one command are one JetStream atomic batch: all stored or none. Each
  attempt has a fresh batch id (batches sharing an id interleave on the server, which then
  stores neither); a re-sent batch whose ids are stored is refused whole (10201).
* ``Nats-Msg-Id`` is the event id, so the server deduplicates a message it already holds.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.errors import BadRequestError, NotFoundError

from shared.envelope import Aggregate
from shared.events import EventRegistry, registry
from shared.eventstore import (
    AlreadyPublished,
    EventStoreError,
    Sealed,
    SealingStore,
    StoredMessage,
)
from shared.ids import new_id
from shared.reading import iter_stored
from shared.signing import SigningKey

ERR_WRONG_LAST_SEQUENCE = 10071
ERR_BATCH_DUPLICATE_ID = 10201


class NatsEventStore(SealingStore):
    def __init__(
        self,
        nc: NATS,
        *,
        key: SigningKey,
        source: str,
        site: str,
        writable_contexts: Sequence[str],
        reg: EventRegistry = registry,
        request_timeout_s: float = 5.0,
    ) -> None:
        super().__init__(
            key=key, source=source, site=site, writable_contexts=writable_contexts, reg=reg
        )
        self.nc = nc
        self.js: JetStreamContext = nc.jetstream(timeout=request_timeout_s)
        self.timeout = request_timeout_s

    async def _publish(
        self,
        aggregate: Aggregate,
        expected: int,
        messages: Sealed,
        carrier: dict[str, str],
    ) -> list[int]:
        expect = {
            "Nats-Expected-Last-Subject-Sequence": str(expected),
            "Nats-Expected-Last-Subject-Sequence-Subject": aggregate.subject_filter,
            "Nats-Expected-Stream": aggregate.stream,
        }
        if len(messages) == 1:
            subject, payload, envelope = messages[0]
            headers = {"Nats-Msg-Id": envelope["id"], **expect, **carrier}
            try:
                ack = await self.js.publish(subject, payload, headers=headers)
            except BadRequestError as exc:
                if exc.err_code == ERR_WRONG_LAST_SEQUENCE:
                    raise await self._conflict(aggregate, expected) from None
                raise EventStoreError(f"append refused: {exc.description}") from None
            if ack.duplicate:
                raise AlreadyPublished
            return [ack.seq]

        # A fresh id per attempt: two writers retrying the same command derive the same event
        # ids, and batches sharing an id interleave on the server, which then stores neither.
        batch_id = new_id()
        last = len(messages)
        for number, (subject, payload, envelope) in enumerate(messages, start=1):
            headers = {
                "Nats-Batch-Id": batch_id,
                "Nats-Batch-Sequence": str(number),
                "Nats-Msg-Id": envelope["id"],
                **carrier,
            }
            if number == 1:
                headers.update(expect)
            if number < last:
                await self.nc.publish(subject, payload, headers=headers)
                continue
            headers["Nats-Batch-Commit"] = "1"
            reply = await self.nc.request(subject, payload, headers=headers, timeout=self.timeout)
            answer = json.loads(reply.data or b"{}")
            error = answer.get("error")
            if error:
                code = error.get("err_code")
                if code == ERR_WRONG_LAST_SEQUENCE:
                    raise await self._conflict(aggregate, expected)
                if code == ERR_BATCH_DUPLICATE_ID:
                    raise AlreadyPublished
                raise EventStoreError(f"append refused: {error.get('description')} ({code})")
            seq = int(answer["seq"])
            count = int(answer.get("count", last))
            if count != last:
                raise EventStoreError(f"batch stored {count} of {last} events")
            return list(range(seq - last + 1, seq + 1))
        raise AssertionError("unreachable")

    async def _message_at(self, stream: str, seq: int) -> StoredMessage | None:
        try:
            msg = await self.js.get_msg(stream, seq, direct=True)
        except NotFoundError:
            return None
        if msg.subject is None:
            return None
        return StoredMessage(seq, msg.subject, msg.data or b"")

    async def read_raw(
        self, stream: str, subject_filter: str, start: int = 1
    ) -> list[StoredMessage]:
        return [
            StoredMessage(seq, subject, msg.data or b"")
            async for seq, subject, msg in iter_stored(self.nc, stream, subject_filter, start)
        ]
