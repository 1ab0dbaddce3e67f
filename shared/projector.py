"""The runner of a projection: a :class:`StreamProjector` feeds one stream to one
:class:`~shared.projection_spec.Projection` (see :mod:`shared.projection` for the
guarantees: batches in one transaction with the checkpoint, exactly once in effect, one
instance at a time under an advisory lock)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from nats import errors as nats_errors
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError
from opentelemetry import propagate, trace
from sqlalchemy import bindparam, insert, select, text, update
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.db import checkpoints, dead_letters
from shared.events import EventRegistry, registry
from shared.loops import raise_if_cancelling
from shared.projection_spec import BatchHandler, Projection, lock_key, subject_event
from shared.pull import PullBroken, Pulled, Puller, Stored
from shared.recorded import PoisonEvent, RecordedEvent, decode
from shared.telemetry import metrics

log = logging.getLogger("shared.projection")  # the name its records always had
tracer = trace.get_tracer("relais.projection")


@dataclass(frozen=True, slots=True)
class _Read:
    """A stored message as this projection reads it: the event to apply, or why it is set
    aside as a dead letter; neither when it is not this read model's business."""

    msg: Stored
    event: RecordedEvent | None = None
    poison: str | None = None


class ProjectionBusy(RuntimeError):
    """Another process holds the projection's lease in this generation."""


class StreamBehindCheckpoint(RuntimeError):
    """The stream ends before this projection's checkpoint: events it applied are gone from
    the log (truncated, or the stream recreated). Applying on would skip the events that
    take the removed sequence numbers, so the projector stops and says so."""


class _Transient(Exception):
    """The database went away mid-batch: retry the batch later, dead-letter nothing."""


# The database or NATS went away while applying: an outage, never a reason to set an event
# aside (a handler that publishes, like the public feed, meets NATS's).
_TRANSIENT = (OperationalError, InterfaceError, nats_errors.Error)


# Between a broken consumer session and the next: short, yet no busy loop if it keeps breaking.
_REPOSITION_PAUSE_S = 0.2
SHARED_CHECKPOINT_S = 0.02  # how stale a standby instance may read the checkpoint

# The statements of every batch, built once (decision 0026: building them per batch cost more
# than running them).
_THIS_CHECKPOINT = (checkpoints.c.projector == bindparam("p")) & (
    checkpoints.c.stream == bindparam("s")
)
_CHECKPOINT = select(checkpoints.c.last_seq).where(_THIS_CHECKPOINT)
_LOCK = _CHECKPOINT.with_for_update()
_LOCK_TABLES = text("SELECT pg_advisory_xact_lock(:k)")  # released with the transaction
_ADVANCE = (
    update(checkpoints)
    .where(_THIS_CHECKPOINT)
    .values(last_seq=bindparam("new_seq"), updated_at=text("now()"))
)


class StreamProjector:
    """Applies one stream's events to one projection."""

    def __init__(
        self,
        projection: Projection,
        stream: str,
        engine: AsyncEngine,
        js: JetStreamContext,
        *,
        batch_size: int = 500,
        reg: EventRegistry = registry,
        idle_wait_s: float = 5.0,
        standby_retry_s: float = 2.0,
        generation: str = "public",
        linger_s: float = 0.0,
    ) -> None:
        self.projection = projection
        self.stream = stream
        self.engine = engine
        self.js = js
        self.batch_size = batch_size
        self.registry = reg
        self.idle_wait_s = idle_wait_s
        self.standby_retry_s = standby_retry_s
        self.checkpoint = 0
        self.pending = 0  # messages the consumer still holds for us: the lag
        self.active = False
        self.dead_letter_count = 0
        # The read models' generation (PostgreSQL schema) ``engine`` writes to: one lease per
        # generation, so a rebuild beside the live read models applies while they do.
        self.generation = generation
        # Why this projector stopped applying, if it did (read by /health).
        self.halted: str | None = None
        self._progress = asyncio.Condition()
        # After a batch smaller than a full one, wait this long for more events before the
        # next fetch, unless a request of this process waits for this projection: under a
        # steady flow, events are applied a few dozen at a time rather than one or two, each
        # with its own transaction, checkpoint and fetch (decision 0027, throughput4).
        self.linger_s = linger_s
        self._wanted = asyncio.Event()
        self._wanted_seq = 0  # the furthest sequence a request of this process waits for
        # The checkpoint as the instance applying the projection last stored it, for requests
        # of this instance while another applies it: read by one request for all of them.
        self._shared_read = asyncio.Lock()
        self._shared_seq = 0
        self._shared_at = float("-inf")
        self._first_seq = 0  # the oldest message the stream held at the last check

    @property
    def label(self) -> str:
        return f"{self.projection.name}/{self.stream}"

    @property
    def lease_key(self) -> int:
        return self._generation_key("projector", self.projection.name, self.stream)

    @cached_property  # read for every batch; the projection's streams are set at import
    def tables_key(self) -> int | None:
        """The lock every projector of this projection (one per stream it reads) takes for
        each batch, or None when it reads one stream. Their handlers share tables: a handler
        on one stream reading a row another stream's handler writes (a report accepted on
        INTAKE, its case opened on CASEWORK) must see it committed, or both can miss each
        other and leave a row that a replay, stream after stream, would not."""
        if len(self.projection.contexts) < 2:
            return None
        return self._generation_key("tables", self.projection.name)

    def _generation_key(self, *parts: str) -> int:
        # The live read models keep the keys they always had; a rebuild's its own.
        return (
            lock_key(*parts) if self.generation == "public" else lock_key(*parts, self.generation)
        )

    # -- the loop ---------------------------------------------------------------------------

    async def run(self, *, until_seq: int | None = None) -> None:
        """Apply events forever (or until the checkpoint reaches ``until_seq``); standby while
        another instance holds the lease; survive database and NATS outages."""
        while True:
            # A cancellation swallowed on the way (a nats-py request, ``wait_for``) must
            # still stop the loop: the sleep below would not be cancelled a second time.
            raise_if_cancelling()
            try:
                done = await self._run_with_lease(until_seq)
                if done:
                    return
            except asyncio.CancelledError:
                raise
            except StreamBehindCheckpoint as exc:
                raise_if_cancelling(exc)
                if self.halted != str(exc):
                    log.error("projector %s stopped: %s", self.label, exc)
                self.halted = str(exc)
            except Exception as exc:  # keep the service alive; the loop retries
                raise_if_cancelling(exc)
                log.warning("projector %s paused: %s", self.label, type(exc).__name__)
            finally:
                self.active = False
            await asyncio.sleep(self.standby_retry_s)

    async def _run_with_lease(self, until_seq: int | None) -> bool:
        async with self.engine.connect() as conn:
            got = (
                await conn.execute(
                    text("SELECT pg_try_advisory_lock(:k)"),
                    {"k": self.lease_key},
                )
            ).scalar()
            await conn.commit()
            if not got:
                return False
            try:
                self.active = True
                self.checkpoint = await self._read_checkpoint(conn)
                while True:
                    await self._check_not_behind()
                    self.halted = None
                    puller = await self._position_consumer()
                    try:
                        return await self._consume(conn, puller, until_seq)
                    except PullBroken as exc:
                        # A delivery went missing (or the consumer went away): consume again
                        # from the checkpoint at once, still holding the lease.
                        log.warning("projector %s: %s; consuming again", self.label, exc)
                    finally:
                        await puller.close()
                    await asyncio.sleep(_REPOSITION_PAUSE_S)
            finally:
                self.active = False
                if not conn.invalidated:
                    await conn.execute(text("SELECT pg_advisory_unlock_all()"))
                    await conn.commit()

    async def _consume(self, conn: AsyncConnection, puller: Puller, until: int | None) -> bool:
        busy = True
        # While a batch is applied (its statements wait on PostgreSQL), the next one is
        # already on its way from the log: a replay runs at the pace of the slower of the
        # two, not of both in turn. A prefetched batch is only ever applied after the one
        # before it; if that one fails, it is dropped with the consumer, which is positioned
        # at the checkpoint again.
        ahead: asyncio.Task[tuple[Pulled, list[_Read]]] | None = None
        try:
            while True:
                if until is not None and self.checkpoint >= until:
                    return True
                try:
                    reads: list[_Read] | None = None
                    if ahead is not None:
                        prefetched, ahead = ahead, None  # done with, whatever it raises
                        pulled, reads = await prefetched
                    elif busy:
                        pulled = await self._fetch(puller, self.batch_size, 0.05)
                    else:  # idle: wake on the first new message, not wait for a full batch
                        pulled = await self._fetch(puller, 1, self.idle_wait_s)
                except TimeoutError:
                    raise_if_cancelling()  # a cancellation nats-py turned into a timeout
                    busy = False
                    last = await self._check_not_behind()
                    if until is not None and last <= self.checkpoint:
                        return True
                    continue
                busy = True
                if reads is None:
                    reads = self._read(pulled.messages)
                if pulled.pending and (until is None or pulled.furthest < until):
                    ahead = asyncio.create_task(self._fetch_ahead(puller))
                await self._apply_read(conn, reads)
                self.pending = pulled.pending
                await puller.ack(pulled)  # ack policy "all": acknowledges the whole batch
                if until is None and ahead is None and len(pulled.messages) < self.batch_size:
                    await self._linger()
                raise_if_cancelling()
        finally:
            if ahead is not None:
                ahead.cancel()
                # Wait for the prefetch to end without taking a cancellation of this task
                # for its own: ``await ahead`` would swallow ours along with the task's.
                await asyncio.wait([ahead])
                if not ahead.cancelled():
                    ahead.exception()  # retrieved, so asyncio does not log it as lost

    async def _linger(self) -> None:
        if self.linger_s <= 0 or self._wanted_seq > self.checkpoint:
            return  # a request waits for an event not applied yet: fetch it now
        self._wanted.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wanted.wait(), self.linger_s)

    async def _fetch(self, puller: Puller, batch: int, timeout: float) -> Pulled:
        """Up to ``batch`` messages; TimeoutError if none came within ``timeout`` seconds."""
        return await puller.fetch(batch, timeout)

    async def _fetch_ahead(self, puller: Puller) -> tuple[Pulled, list[_Read]]:
        # Decoded here too: while the batch before waits on PostgreSQL (another process, on
        # another core), this one's JSON and models are read, rather than after it.
        pulled = await self._fetch(puller, self.batch_size, 0.05)
        return pulled, self._read(pulled.messages)

    async def _position_consumer(self) -> Puller:
        """(Re)create the durable consumer at checkpoint + 1: the database is the truth, so a
        crash, a restored database or a rebuild all resume at the right place at once."""
        name = self.projection.consumer_name
        try:
            await self.js.delete_consumer(self.stream, name)
        except NotFoundError:
            pass
        start: dict[str, Any] = (
            {
                "deliver_policy": DeliverPolicy.BY_START_SEQUENCE,
                "opt_start_seq": self.checkpoint + 1,
            }
            if self.checkpoint
            else {"deliver_policy": DeliverPolicy.ALL}
        )
        config = ConsumerConfig(
            durable_name=name,
            ack_policy=AckPolicy.ALL,
            ack_wait=60,
            max_deliver=-1,
            max_ack_pending=self.batch_size * 4,
            description=f"projection {self.projection.name}",
            **start,
        )
        await self.js.add_consumer(self.stream, config)
        # Deliveries start at the checkpoint's successor, or at the oldest message the stream
        # still holds when that one has aged out (an age-limited stream): no gap either way.
        first = max(self.checkpoint + 1, self._first_seq)
        # nats-py keeps the connection and the API prefix (a JetStream domain's) on the context.
        nc, prefix = self.js._nc, self.js._prefix
        return await Puller(nc, self.stream, name, first=first, api_prefix=prefix).start()

    async def _check_not_behind(self) -> int:
        info = await self.js.stream_info(self.stream)
        last, self._first_seq = int(info.state.last_seq), int(info.state.first_seq)
        if last < self.checkpoint:
            raise StreamBehindCheckpoint(
                f"{self.stream} ends at sequence {last}, but {self.projection.name} already "
                f"applied up to {self.checkpoint}: events were removed from the log"
            )
        return last

    async def _stream_last_seq(self) -> int:
        info = await self.js.stream_info(self.stream)
        return int(info.state.last_seq)

    # -- one batch ---------------------------------------------------------------------------

    async def _apply_stored(self, conn: AsyncConnection, msgs: list[Stored]) -> None:
        await self._apply_read(conn, self._read(msgs))

    async def _apply_read(self, conn: AsyncConnection, msgs: list[_Read]) -> None:
        try:
            applied = await self._transaction(conn, msgs, isolate=False)
        except (_Transient, nats_errors.Error):
            raise
        except Exception:
            # Something in the batch failed: redo it one savepoint per event, so the one bad
            # event goes to the dead letters and the rest still apply.
            await conn.rollback()
            applied = await self._transaction(conn, msgs, isolate=True)
        metrics.projected.add(applied, {"projector": self.label})
        async with self._progress:
            self._progress.notify_all()

    async def _transaction(self, conn: AsyncConnection, msgs: list[_Read], *, isolate: bool) -> int:
        applied = 0
        try:
            async with conn.begin():
                if self.tables_key is not None:  # first, before this batch holds any row
                    await conn.execute(_LOCK_TABLES, {"k": self.tables_key})
                checkpoint = await self._lock_checkpoint(conn)
                last = checkpoint
                # Consecutive events of one batch handler, applied together (decision 0027);
                # ``isolate`` (after a failure) applies every event alone in a savepoint.
                run: list[RecordedEvent] = []
                run_handler: BatchHandler | None = None
                for read in msgs:
                    msg, event, seq = read.msg, read.event, read.msg.seq
                    if seq <= last:
                        continue  # already applied: redelivery after a crash
                    last = seq
                    applied += 1
                    if read.poison is not None:
                        await self._dead_letter(conn, msg, seq, read.poison)
                    if event is None:
                        continue
                    context, name = event.event.context, event.event.name
                    batch = self.projection.batch_handler_for(context, name)
                    if batch is not None and not isolate:
                        if run and batch is not run_handler:
                            await self._apply_run(conn, run_handler, run)
                            run = []
                        run_handler = batch
                        run.append(event)
                        continue
                    if run:
                        await self._apply_run(conn, run_handler, run)
                        run = []
                    await self._apply_one(conn, msg, event, batch, isolate=isolate)
                if run:
                    await self._apply_run(conn, run_handler, run)
                if last > checkpoint:
                    await conn.execute(_ADVANCE, {**self._key, "new_seq": last})
        except DBAPIError as exc:
            if exc.connection_invalidated or isinstance(exc, _TRANSIENT):
                raise _Transient(type(exc).__name__) from exc
            raise
        self.checkpoint = max(self.checkpoint, last)
        return applied

    def _read(self, msgs: list[Stored]) -> list[_Read]:
        return [self._read_one(msg) for msg in msgs]

    def _read_one(self, msg: Stored) -> _Read:
        subject = msg.subject
        named = subject_event(subject)
        if named is not None and not self.projection.handles(*named):
            # Not this read model's business: not even decoded. Replays skip most of a stream
            # cheaply, and an event type this version does not know yet (a newer service's)
            # is no dead letter for a projection that would ignore it anyway.
            return _Read(msg)
        try:
            event = decode(
                msg.data, stream=self.stream, seq=msg.seq, subject=subject, reg=self.registry
            )
        except PoisonEvent as exc:
            return _Read(msg, poison=str(exc))
        if named is not None and named != (event.event.context, event.event.name):
            return _Read(msg, poison="the subject names another event type")
        if not self.projection.handles(event.event.context, event.event.name):
            return _Read(msg)
        return _Read(msg, event)

    async def _apply_run(
        self, conn: AsyncConnection, handler: BatchHandler | None, run: list[RecordedEvent]
    ) -> None:
        assert handler is not None
        links = [
            trace.Link(ctx)
            for e in run
            if "traceparent" in e.envelope
            and (
                ctx := trace.get_current_span(
                    propagate.extract({"traceparent": str(e.envelope["traceparent"])})
                ).get_span_context()
            ).is_valid
        ]
        with tracer.start_as_current_span(
            f"project {len(run)} events",
            kind=trace.SpanKind.CONSUMER,
            links=links,
            attributes={
                "relais.projector": self.label,
                "relais.stream.seq": run[0].seq,
                "relais.stream.last_seq": run[-1].seq,
            },
        ):
            await handler(conn, run)

    async def _apply_one(
        self,
        conn: AsyncConnection,
        msg: Stored,
        event: RecordedEvent,
        batch: BatchHandler | None,
        *,
        isolate: bool,
    ) -> None:
        seq = event.seq
        handler = self.projection.handler_for(event.event.context, event.event.name)
        carrier = (
            {"traceparent": str(event.envelope["traceparent"])}
            if ("traceparent" in event.envelope)
            else {}
        )

        async def apply() -> None:
            if batch is not None:
                await batch(conn, [event])
            else:
                assert handler is not None
                await handler(conn, event)

        with tracer.start_as_current_span(
            f"project {event.event.name}",
            context=propagate.extract(carrier),
            kind=trace.SpanKind.CONSUMER,
            attributes={
                "relais.projector": self.label,
                "messaging.message.id": event.id,
                "relais.stream.seq": seq,
            },
        ):
            if not isolate:
                await apply()
                return
            try:
                async with conn.begin_nested():
                    await apply()
            except _TRANSIENT:
                raise
            except DBAPIError as exc:
                if exc.connection_invalidated:
                    raise
                await self._dead_letter(conn, msg, seq, f"{type(exc.orig).__name__}")
            except Exception as exc:
                await self._dead_letter(conn, msg, seq, f"{type(exc).__name__}: {exc}")

    async def _dead_letter(self, conn: AsyncConnection, msg: Stored, seq: int, error: str) -> None:
        # The reason is kept with the event in the service's own database; the log gets the
        # position only, since an exception's text may quote the event's data.
        log.error("projector %s: event at %s:%d set aside", self.label, self.stream, seq)
        await conn.execute(
            insert(dead_letters).values(
                projector=self.projection.name,
                stream=self.stream,
                seq=seq,
                subject=msg.subject,
                error=error[:2000],
                payload=msg.data,
            )
        )
        self.dead_letter_count += 1
        metrics.dead_letters.add(1, {"projector": self.label})

    @property
    def _key(self) -> dict[str, str]:
        return {"p": self.projection.name, "s": self.stream}

    async def _lock_checkpoint(self, conn: AsyncConnection) -> int:
        row = (await conn.execute(_LOCK, self._key)).scalar()
        if row is None:
            await conn.execute(
                insert(checkpoints).values(
                    projector=self.projection.name, stream=self.stream, last_seq=0
                )
            )
            return 0
        return int(row)

    async def _read_checkpoint(self, conn: AsyncConnection) -> int:
        row = (await conn.execute(_CHECKPOINT, self._key)).scalar()
        self.dead_letter_count = int(
            (
                await conn.execute(
                    select(text("count(*)"))
                    .select_from(dead_letters)
                    .where(dead_letters.c.projector == self.projection.name)
                    .where(dead_letters.c.stream == self.stream)
                )
            ).scalar()
            or 0
        )
        await conn.commit()
        return int(row or 0)

    # -- read-your-writes ---------------------------------------------------------------------

    async def wait_for(self, seq: int, timeout: float) -> bool:
        """True once this projection has applied stream sequence ``seq`` (here or on another
        instance of the service), False after ``timeout`` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if self.checkpoint >= seq:
                return True
            if not self.active and await self._shared_checkpoint() >= seq:
                return True
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            self._wanted_seq = max(self._wanted_seq, seq)
            self._wanted.set()  # a request waits: apply what comes at once
            async with self._progress:
                try:
                    await asyncio.wait_for(self._progress.wait(), min(remaining, 0.05))
                except TimeoutError:
                    pass

    async def _shared_checkpoint(self) -> int:
        """The stored checkpoint, read at most once every ``SHARED_CHECKPOINT_S`` whatever
        the number of requests waiting (each looking every 50 ms, 24 requests in flight
        would read it 480 times a second)."""
        async with self._shared_read:
            loop = asyncio.get_running_loop()
            if loop.time() - self._shared_at < SHARED_CHECKPOINT_S:
                return self._shared_seq
            async with self.engine.connect() as conn:
                row = (await conn.execute(_CHECKPOINT, self._key)).scalar()
            self._shared_seq, self._shared_at = int(row or 0), loop.time()
            return self._shared_seq
