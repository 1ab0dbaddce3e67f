"""Applying a stream by direct get, without a consumer: how a generation of read models is
built beside the live one (:mod:`shared.rebuild`), while the live projectors keep theirs."""

from __future__ import annotations

from contextlib import aclosing

from nats.aio.client import Client as NATS
from sqlalchemy import text

from shared.projection import ProjectionBusy, Stored, StreamProjector
from shared.reading import iter_stored


class CatchUpProjector(StreamProjector):
    """A projector that applies up to a point and stops: the same batches, the same
    transactions with the checkpoint and the same dead letters as :meth:`run`, under its
    generation's lease."""

    async def catch_up(self, nc: NATS, until: int | None = None) -> int:
        """Apply the stream up to ``until`` (default: its last sequence now); returns the
        checkpoint reached. :class:`ProjectionBusy` if another process holds the lease."""
        async with self.engine.connect() as conn:
            got = (
                await conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.lease_key})
            ).scalar()
            await conn.commit()
            if not got:
                raise ProjectionBusy(f"{self.label} is being applied in {self.generation}")
            try:
                self.active = True
                self.checkpoint = await self._read_checkpoint(conn)
                target = until if until is not None else await self._stream_last_seq()
                batch: list[Stored] = []
                if target > self.checkpoint:
                    stored = iter_stored(nc, self.stream, ">", self.checkpoint + 1)
                    async with aclosing(stored) as messages:
                        async for seq, subject, msg in messages:
                            if seq > target:
                                break
                            batch.append(Stored(seq, subject, msg.data or b""))
                            if len(batch) >= self.batch_size:
                                await self._apply_stored(conn, batch)
                                batch = []
                if batch:
                    await self._apply_stored(conn, batch)
                return self.checkpoint
            finally:
                self.active = False
                if not conn.invalidated:
                    await conn.execute(text("SELECT pg_advisory_unlock_all()"))
                    await conn.commit()
