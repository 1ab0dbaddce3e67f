"""Taking over a case another site released to this one (decision 0030): an inbox at the
receiving site only.

The owner's ``CaseReleasedToSite`` reaches this site by sourcing; the read model keeps the
case's ``released_to`` until a take-over is projected. This site's instances (and only
theirs: the inbox's site is the receiver named by the release, not the releasing site) check
that the release is still the last event at the old owner and append
``CaseTakenOverFromSite`` as the case's first event under this site's subjects, keyed by the
release: taken over once however many instances race.

Which sites a case may be released to (``known_sites``) is what a running site truly knows
of the others without any setting of its own: the sites its casework stream copies (linked by
``relais sites``), and those whose cases or reports its read model holds."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from nats.aio.client import Client as NATS
from sqlalchemy import select, union
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts import casework as ev
from services.casework.app.cases import CASE
from services.casework.domain import CaseState
from services.casework.read.tables import cases, pending
from shared.causation import correlation_of
from shared.commands import Expect
from shared.envelope import Actor, Aggregate
from shared.process import Inbox, Ports, Reaction, this_site
from shared.sites import sourced_sites

TAKER = Actor.system("casework.site-transfer")


async def _released_here(ports: Ports, limit: int) -> Sequence[Any]:
    assert ports.engine is not None
    async with ports.engine.connect() as conn:
        return (
            await conn.execute(
                select(cases.c.case_id, cases.c.site, cases.c.released_to)
                .where(this_site(cases.c.released_to, ports))
                .where(cases.c.site != ports.settings.site)
                .order_by(cases.c.case_id)
                .limit(limit)
            )
        ).all()


async def _take_over(ports: Ports, row: Any) -> Reaction[CaseState] | None:
    assert ports.commands is not None
    previous = Aggregate(CASE.context, row.site, CASE.type, row.case_id)
    recorded = await ports.commands.store.load(previous)
    last = recorded[-1] if recorded else None
    if (
        last is None
        or not isinstance(last.event, ev.CaseReleasedToSite)
        or last.event.to_site != ports.settings.site
    ):
        return None  # not (or no longer) released to this site: nothing to take over
    event = ev.CaseTakenOverFromSite(from_site=row.site, released_id=last.id)
    return Reaction(
        kind=CASE,
        aggregate_id=row.case_id,
        decide=lambda _state: [event],
        key=f"take-over:{last.id}",
        expect=Expect.new(),
        actor=TAKER,
        causation_id=last.id,
        correlation_id=correlation_of(last),
    )


def _receiver(row: Any) -> str | None:
    # The site that answers a release is the one it names, not the one that wrote it.
    return str(row.released_to) if row.released_to else None


def site_taker(interval_s: float = 1.0) -> Inbox[Any]:
    return Inbox(
        name="site take-over",
        pending=_released_here,
        react=_take_over,
        interval_s=interval_s,
        site_of=_receiver,
        causing=lambda _row: None,
    )


async def known_sites(nc: NATS | None, engine: AsyncEngine | None) -> frozenset[str]:
    """Every site this one knows of, itself included (see the module's docstring)."""
    known: set[str] = set()
    if nc is not None:
        known |= await sourced_sites(nc.jetstream(), CASE.context)
    if engine is not None:
        async with engine.connect() as conn:
            held = union(select(cases.c.site).distinct(), select(pending.c.site).distinct())
            known |= {str(site) for site in (await conn.execute(held)).scalars()}
    return frozenset(known)
