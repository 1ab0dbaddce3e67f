"""Moving an aggregate to another site: an explicit event pair (decision 0029).

The owner appends :class:`OwnershipReleased` naming the receiving site; from then on a command
there on that aggregate is the receiver's (``OwnedElsewhere``: forwarded or refused). The
receiver, once its sourced copy holds the release, appends :class:`OwnershipTakenOver` as the
first event under its own subjects, naming the release; its commands then decide on the whole
history (the previous owner's events up to the release, then its own). Neither event changes
the aggregate's state: each context's fold ignores them.

Event types are per context, so a context that allows transfers registers its pair with
:func:`transfer_events` (the same class names in every context)."""

from __future__ import annotations

from dataclasses import replace
from typing import TypeVar

from shared.commands import AggregateKind, Commands, Expect, Outcome
from shared.domain import DomainError
from shared.envelope import Actor, Aggregate
from shared.events import event_type
from shared.i18n import Message
from shared.ownership import OwnershipReleased, OwnershipTakenOver

S = TypeVar("S")
NOT_RELEASED = "not_released_to_this_site"
__all__ = ["OwnershipReleased", "OwnershipTakenOver", "release", "take_over", "transfer_events"]


def transfer_events(
    context: str, aggregate: str
) -> tuple[type[OwnershipReleased], type[OwnershipTakenOver]]:
    """Register the pair for ``context``'s aggregates of type ``aggregate``."""
    released = event_type(
        context=context,
        aggregate=aggregate,
        en="The owning site gave the record to another site.",
        fr="Le site propriétaire a cédé le dossier à un autre site.",
    )(type("OwnershipReleased", (OwnershipReleased,), {"__module__": __name__}))
    taken = event_type(
        context=context,
        aggregate=aggregate,
        en="This site took the record over from the site that released it.",
        fr="Ce site a repris le dossier cédé par l'autre site.",
    )(type("OwnershipTakenOver", (OwnershipTakenOver,), {"__module__": __name__}))
    return released, taken


def not_released_message(site: str) -> Message:
    return Message(
        en=f"Site {site} has not released this record to this site (or its release has not "
        "arrived yet): nothing was taken over.",
        fr=f"Le site {site} n'a pas cédé ce dossier à ce site (ou sa cession n'est pas encore "
        "arrivée) : rien n'a été repris.",
    )


async def release(
    commands: Commands,
    kind: AggregateKind[S],
    aggregate_id: str,
    event: type[OwnershipReleased],
    to_site: str,
    *,
    actor: Actor,
    key: str | None = None,
) -> Outcome[S]:
    """At the owner: give the aggregate to ``to_site`` (its last change here)."""
    return await commands.execute(
        kind,
        aggregate_id,
        lambda _state: [event(to_site=to_site)],
        expect=Expect.current(),
        actor=actor,
        key=key or f"release:{aggregate_id}:{to_site}",
    )


async def take_over(
    commands: Commands,
    kind: AggregateKind[S],
    aggregate_id: str,
    event: type[OwnershipTakenOver],
    from_site: str,
    *,
    actor: Actor,
) -> Outcome[S]:
    """At the receiver: take the aggregate over once the release to this site is here."""
    previous = Aggregate(kind.context, from_site, kind.type, aggregate_id)
    recorded = await commands.store.load(previous)
    last = recorded[-1] if recorded else None
    if (
        last is None
        or not isinstance(last.event, OwnershipReleased)
        or last.event.to_site != commands.site
    ):
        raise DomainError(NOT_RELEASED, not_released_message(from_site), status=409)
    assert last is not None
    outcome = await commands.execute(
        kind,
        aggregate_id,
        lambda _state: [event(from_site=from_site, released_id=last.id)],
        expect=Expect.new(),
        actor=actor,
        key=f"take-over:{last.id}",
    )
    # Decided as new here, but its state is the whole history's.
    return replace(outcome, state=(await commands.load(kind, aggregate_id)).state)
