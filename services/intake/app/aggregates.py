"""Where intake's aggregates live on the log, loading one's state, and the caller as the
actor of the events a command appends."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from shared.auth import Principal
from shared.envelope import Actor, Aggregate
from shared.events import DomainEvent
from shared.service import Runtime

S = TypeVar("S")


def actor_of(principal: Principal) -> Actor:
    return Actor(user=principal.user, agency=principal.agency, role=principal.primary_role)


def aggregate(runtime: Runtime, kind: str, id_: str) -> Aggregate:
    return Aggregate("intake", runtime.settings.site, kind, id_)


async def load(
    runtime: Runtime, agg: Aggregate, fold: Callable[[list[DomainEvent]], S]
) -> tuple[S, int]:
    """The aggregate's state from the log (the truth) and its version for the next append."""
    assert runtime.store is not None
    recorded = await runtime.store.load(agg)
    return fold([r.event for r in recorded]), (recorded[-1].seq if recorded else 0)
