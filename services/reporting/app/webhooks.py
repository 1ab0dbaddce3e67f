"""Delivering one integrator's public events to its webhook.

A loop, run by one instance at a time (an advisory lock on the connection it works on),
copies the integrator's new messages from PUBLIC into ``webhook_delivery`` rows, then posts
the rows that are due: for each aggregate only its oldest undelivered event, so an
aggregate's events arrive in order while one failing aggregate holds back no other. A failed
attempt is retried after a delay that doubles from ``webhook_first_retry_s`` up to
``webhook_max_backoff_s``; after ``webhook_retry_hours`` of failures the event is listed as
failed and the aggregate's next events go on. Everything is in the database, so a restart
resumes where it stopped; a post whose answer was lost is sent again (receivers deduplicate
on ``webhook-id``, as Standard Webhooks asks)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from nats.aio.client import Client as NATS
from sqlalchemy import Row, and_, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.reporting.domain import webhook_signing as signing
from services.reporting.domain.webhook_signing import Retry
from services.reporting.read.webhooks import DELIVERED, FAILED, PENDING, cursors, deliveries
from shared.integrators import PUBLIC_STREAM, Integrator, subjects_of
from shared.loops import raise_if_cancelling
from shared.projection import lock_key
from shared.reading import iter_stored

log = logging.getLogger(__name__)

COPY_BATCH = 500
SEND_BATCH = 50
CONCURRENT_POSTS = 8


@dataclass(frozen=True)
class Outcome:
    position: int
    ok: bool
    error: str | None = None


class WebhookDelivery:
    def __init__(
        self,
        integrator: Integrator,
        engine: AsyncEngine,
        nc: NATS,
        retry: Retry,
        *,
        timeout_s: float,
        poll_s: float = 1.0,
        standby_retry_s: float = 2.0,
    ) -> None:
        assert integrator.webhook is not None
        self.name = integrator.name
        self.webhook = integrator.webhook
        self.engine = engine
        self.nc = nc
        self.retry = retry
        self.timeout_s = timeout_s
        self.poll_s = poll_s
        self.standby_retry_s = standby_retry_s

    async def run(self) -> None:
        """Until cancelled; standby while another instance delivers for this integrator."""
        while True:
            # A cancellation swallowed on the way (a query, a post) must still stop the loop:
            # the sleeps below would not be cancelled a second time.
            raise_if_cancelling()
            try:
                await self._run_with_lease()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # NATS or the database away: try again
                raise_if_cancelling(exc)
                log.warning("webhook %s paused: %s", self.name, type(exc).__name__)
            await asyncio.sleep(self.standby_retry_s)

    async def _run_with_lease(self) -> None:
        async with (
            self.engine.connect() as conn,
            httpx.AsyncClient(timeout=self.timeout_s, follow_redirects=False) as client,
        ):
            key = lock_key("webhook", self.name)
            got = (await conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key})).scalar()
            await conn.commit()
            if not got:
                return
            try:
                while True:
                    raise_if_cancelling()
                    copied = await self.copy_new(conn)
                    sent = await self.send_due(conn, client)
                    if not copied and not sent:
                        await asyncio.sleep(await self._idle_for(conn))
            finally:
                if not conn.invalidated:
                    await conn.execute(text("SELECT pg_advisory_unlock_all()"))
                    await conn.commit()

    # -- copying from PUBLIC -----------------------------------------------------------------

    async def copy_new(self, conn: AsyncConnection) -> int:
        """Rows for the integrator's messages in PUBLIC after the cursor, in one transaction
        with the cursor's move."""
        last = (
            await conn.execute(
                select(cursors.c.last_position).where(cursors.c.integrator == self.name)
            )
        ).scalar() or 0
        await conn.commit()
        rows: list[dict[str, Any]] = []
        now = datetime.now(UTC)
        async for seq, _, msg in iter_stored(
            self.nc, PUBLIC_STREAM, subjects_of(self.name), start=last + 1
        ):
            rows.append(self._row(seq, bytes(msg.data), now))
            if len(rows) >= COPY_BATCH:
                break
        if not rows:
            return 0
        async with conn.begin():
            await conn.execute(
                insert(deliveries)
                .values(rows)
                .on_conflict_do_nothing(index_elements=["integrator", "position"])
            )
            moved = rows[-1]["position"]
            await conn.execute(
                insert(cursors)
                .values(integrator=self.name, last_position=moved)
                .on_conflict_do_update(
                    index_elements=["integrator"],
                    set_={"last_position": func.greatest(cursors.c.last_position, moved)},
                )
            )
        return len(rows)

    def _row(self, seq: int, payload: bytes, now: datetime) -> dict[str, Any]:
        try:
            envelope = json.loads(payload)
            message_id, aggregate = str(envelope["id"]), str(envelope["subject"])
            event_type = str(envelope["type"])
        except (ValueError, KeyError, TypeError):  # not ours to judge: deliver it as stored
            message_id, aggregate, event_type = f"position-{seq}", f"position-{seq}", "unknown"
        return {
            "integrator": self.name,
            "position": seq,
            "message_id": message_id[:64],
            "aggregate": aggregate[:80],
            "event_type": event_type[:200],
            "payload": payload,
            "status": PENDING,
            "attempts": 0,
            "next_attempt_at": now,
        }

    # -- posting -----------------------------------------------------------------------------

    async def send_due(self, conn: AsyncConnection, client: httpx.AsyncClient) -> int:
        now = datetime.now(UTC)
        due = (await conn.execute(_due_heads(self.name, now))).all()
        await conn.commit()
        if not due:
            return 0
        gate = asyncio.Semaphore(CONCURRENT_POSTS)

        async def post(row: Row[Any]) -> Outcome:
            async with gate:
                return await self._post(client, row)

        outcomes = await asyncio.gather(*(post(row) for row in due))
        first_attempts = {row.position: row.first_attempt_at for row in due}
        attempts = {row.position: row.attempts for row in due}
        async with conn.begin():
            for outcome in outcomes:
                await conn.execute(
                    self._after(
                        outcome,
                        attempts[outcome.position] + 1,
                        first_attempts[outcome.position] or now,
                        datetime.now(UTC),
                    )
                )
        return len(due)

    async def _post(self, client: httpx.AsyncClient, row: Row[Any]) -> Outcome:
        body = bytes(row.payload)
        headers = signing.headers(self.webhook.secret, row.message_id, int(time.time()), body)
        headers["relais-position"] = str(row.position)
        try:
            answer = await client.post(self.webhook.url, content=body, headers=headers)
        except httpx.TimeoutException:
            return Outcome(row.position, False, "timeout")
        except httpx.HTTPError as exc:
            return Outcome(row.position, False, type(exc).__name__)
        if 200 <= answer.status_code < 300:
            return Outcome(row.position, True)
        return Outcome(row.position, False, f"HTTP {answer.status_code}")

    def _after(self, outcome: Outcome, attempts: int, first: datetime, now: datetime) -> Any:
        where = and_(
            deliveries.c.integrator == self.name, deliveries.c.position == outcome.position
        )
        common = {"attempts": attempts, "first_attempt_at": first, "last_attempt_at": now}
        if outcome.ok:
            values = {**common, "status": DELIVERED, "delivered_at": now, "last_error": None}
        elif now - first >= self.retry.give_up_after:
            values = {**common, "status": FAILED, "last_error": outcome.error}
            log.warning("webhook %s: gave up on position %d", self.name, outcome.position)
        else:
            values = {
                **common,
                "last_error": outcome.error,
                "next_attempt_at": now + self.retry.delay(attempts),
            }
        return update(deliveries).where(where).values(**values)

    async def _idle_for(self, conn: AsyncConnection) -> float:
        """Until the next retry is due, but no longer than the poll interval (new events)."""
        soonest: datetime | None = (
            await conn.execute(
                select(func.min(deliveries.c.next_attempt_at))
                .where(deliveries.c.integrator == self.name)
                .where(deliveries.c.status == PENDING)
            )
        ).scalar()
        await conn.commit()
        if soonest is None:
            return self.poll_s
        return min(self.poll_s, max(0.01, (soonest - datetime.now(UTC)).total_seconds()))


def _due_heads(name: str, now: datetime) -> Any:
    """The due rows that are the oldest undelivered event of their aggregate."""
    d = deliveries.alias("d")
    e = deliveries.alias("e")
    earlier = (
        select(e.c.position)
        .where(e.c.integrator == d.c.integrator)
        .where(e.c.aggregate == d.c.aggregate)
        .where(e.c.status == PENDING)
        .where(e.c.position < d.c.position)
        .exists()
    )
    return (
        select(d)
        .where(d.c.integrator == name)
        .where(d.c.status == PENDING)
        .where(d.c.next_attempt_at <= now)
        .where(~earlier)
        .order_by(d.c.position)
        .limit(SEND_BATCH)
    )


async def redeliver(
    engine: AsyncEngine, name: str, *, from_position: int | None, failed_only: bool
) -> int:
    """Make deliveries due again now: every one from ``from_position`` on, or only those
    listed as failed. Returns how many."""
    where = [deliveries.c.integrator == name]
    if from_position is not None:
        where.append(deliveries.c.position >= from_position)
    if failed_only:
        where.append(deliveries.c.status == FAILED)
    async with engine.begin() as conn:
        done = await conn.execute(
            update(deliveries)
            .where(*where)
            .values(
                status=PENDING,
                attempts=0,
                first_attempt_at=None,
                delivered_at=None,
                last_error=None,
                next_attempt_at=datetime.now(UTC),
            )
        )
    return int(done.rowcount or 0)
