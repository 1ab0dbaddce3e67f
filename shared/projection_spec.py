"""What a projection is: its tables and the handler of each event type (per event, or a run
of consecutive events at once, decision 0027), and the names derived from it (consumer,
lock keys). The runner that feeds it a stream is :mod:`shared.projector`."""

from __future__ import annotations

import zlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.recorded import RecordedEvent

Handler = Callable[[AsyncConnection, RecordedEvent], Awaitable[None]]
# A handler of consecutive events at once (decision 0027): same effect as applying each in
# order, with statements built once and rows written together (executemany, multi-row).
BatchHandler = Callable[[AsyncConnection, Sequence[RecordedEvent]], Awaitable[None]]


@dataclass
class Projection:
    """A read model: its tables and what each event type does to them."""

    name: str
    version: int
    metadata: MetaData
    handlers: dict[tuple[str, str], Handler] = field(default_factory=dict)
    # Per context, the handler of every event type without its own: for read models that
    # index whatever happens (audit, feeds), including types registered after start-up.
    any_event: dict[str, Handler] = field(default_factory=dict)
    # Batch handlers (decision 0027), by event type and, for every type of a context, by
    # context: a run of consecutive events with the same batch handler is applied in one call.
    batch_handlers: dict[tuple[str, str], BatchHandler] = field(default_factory=dict)
    any_event_batch: dict[str, BatchHandler] = field(default_factory=dict)

    def on(self, context: str, event_name: str) -> Callable[[Handler], Handler]:
        def wrap(fn: Handler) -> Handler:
            known = self.handlers.get((context, event_name)) or self.batch_handlers.get(
                (context, event_name)
            )
            if known is not None and known.__qualname__ != fn.__qualname__:
                # One handler per event type: a second would silently replace the first.
                raise ValueError(f"{self.name}: {context}.{event_name} already has a handler")
            self.handlers[(context, event_name)] = fn
            return fn

        return wrap

    def on_batch(self, context: str, *event_names: str) -> Callable[[BatchHandler], BatchHandler]:
        """Register ``fn(conn, events)`` for these event types (every type of the context if
        none is named). The projector hands it each run of consecutive events it handles, in
        stream order, inside the batch's transaction; it must have the effect of applying
        them one by one. A run that fails is applied again one event at a time (each in a
        savepoint), so a poison event still goes alone to the dead letters."""

        def wrap(fn: BatchHandler) -> BatchHandler:
            if not event_names:
                self.any_event_batch[context] = fn
                return fn
            for name in event_names:
                known = self.handlers.get((context, name)) or self.batch_handlers.get(
                    (context, name)
                )
                if known is not None and known.__qualname__ != fn.__qualname__:
                    raise ValueError(f"{self.name}: {context}.{name} already has a handler")
                self.batch_handlers[(context, name)] = fn
            return fn

        return wrap

    def batch_handler_for(self, context: str, event_name: str) -> BatchHandler | None:
        """The batch handler of this type, unless a per-event handler is more specific."""
        if (context, event_name) in self.handlers:
            return None
        found = self.batch_handlers.get((context, event_name))
        if found is not None or context in self.any_event:
            return found
        return self.any_event_batch.get(context)

    def handles(self, context: str, event_name: str) -> bool:
        return (
            self.handler_for(context, event_name) is not None
            or self.batch_handler_for(context, event_name) is not None
        )

    def on_any(self, context: str) -> Callable[[Handler], Handler]:
        def wrap(fn: Handler) -> Handler:
            self.any_event[context] = fn
            return fn

        return wrap

    def handler_for(self, context: str, event_name: str) -> Handler | None:
        return self.handlers.get((context, event_name)) or self.any_event.get(context)

    @property
    def contexts(self) -> list[str]:
        return sorted(
            {context for context, _ in self.handlers}
            | set(self.any_event)
            | {context for context, _ in self.batch_handlers}
            | set(self.any_event_batch)
        )

    @property
    def consumer_name(self) -> str:
        return self.name.replace(".", "_").replace(" ", "_")


def subject_event(subject: str) -> tuple[str, str] | None:
    """(context, event name) from ``<context>.<site>.<aggregate>.<id>.<EventName>``."""
    parts = subject.split(".")
    return (parts[0], parts[-1]) if len(parts) == 5 else None


def lock_key(*parts: str) -> int:
    return zlib.crc32("\x1f".join(parts).encode()) - 2**31
