"""The test kitchen: a service's application layer on the in-memory event store, without
NATS or PostgreSQL. Commands, inbox reactions and sweep flags run as in the service; what
needs the read model (a sweep's list of what is due, an inbox's pending rows) is given by the
test."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine

from shared.commands import Commands
from shared.config import Settings
from shared.memory_store import MemoryEventStore
from tests.clock import MovableClock


@dataclass
class Kitchen:
    """What a process or a command needs of its service (``shared.process.Ports``)."""

    commands: Commands
    settings: Settings = field(default_factory=Settings)
    clock: MovableClock = field(default_factory=MovableClock)
    engine: AsyncEngine | None = None

    @classmethod
    def of(cls, *contexts: str) -> Kitchen:
        store = MemoryEventStore(writable_contexts=(*contexts, "audit"))
        return cls(Commands(store, site="hq"))

    def twin(self) -> Kitchen:
        """A second instance of the service, on the same log."""
        store = self.commands.store
        assert isinstance(store, MemoryEventStore)
        return Kitchen(Commands(store.twin(), site="hq"), self.settings, self.clock)

    async def names(self, context: str, kind: str, aggregate_id: str) -> Sequence[str]:
        from shared.envelope import Aggregate

        stored = await self.commands.store.load(Aggregate(context, "hq", kind, aggregate_id))
        return [r.event.name for r in stored]
