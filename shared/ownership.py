"""Ownership across sites: an aggregate is changed only at the site that owns it, the site
in its subject (``<context>.<site>.<type>.<id>``). Another site holds a sourced copy of its
events and may read them, but a command on it is carried to the owner
(:mod:`shared.forwarding`) or refused; it is never applied locally (the event store refuses
to append to another site's subjects anyway).

Where the owner is found: the aggregate's events under any site's subjects of the stream
(``<context>.*.<type>.<id>.*``), asked only when this site holds none of its own."""

from __future__ import annotations

from typing import Any

from nats.js.errors import NotFoundError

from shared.domain import DomainError
from shared.envelope import Aggregate
from shared.events import DomainEvent
from shared.eventstore import EventStore
from shared.i18n import Message

OWNED_ELSEWHERE = "owned_by_another_site"
OWNER_TIMEOUT = "owner_did_not_answer"
OWNER_HEADER = "Relais-Owner-Site"


def owned_elsewhere_message(site: str) -> Message:
    return Message(
        en=f"This record is owned by site {site}, which cannot be reached now; nothing was "
        "changed here. Try again when the link is back (with the same Idempotency-Key).",
        fr=f"Ce dossier appartient au site {site}, injoignable pour le moment ; rien n'a été "
        "modifié ici. Réessayez quand la liaison sera rétablie (avec la même Idempotency-Key).",
    )


def owner_timeout_message(site: str) -> Message:
    return Message(
        en=f"Site {site}, which owns this record, did not answer in time; the change may or "
        "may not have been made there. Retry with the same Idempotency-Key.",
        fr=f"Le site {site}, propriétaire de ce dossier, n'a pas répondu à temps ; la "
        "modification a pu être faite ou non. Réessayez avec la même Idempotency-Key.",
    )


class OwnedElsewhere(DomainError):
    """A command on an aggregate another site owns. Answered 503 naming the owner unless the
    HTTP layer forwards it (:mod:`shared.forwarding`)."""

    def __init__(self, aggregate: Aggregate) -> None:
        super().__init__(
            OWNED_ELSEWHERE,
            owned_elsewhere_message(aggregate.site),
            status=503,
            extra={"owner_site": aggregate.site},
        )
        self.aggregate = aggregate

    @property
    def owner(self) -> str:
        return self.aggregate.site


class OwnershipReleased(DomainEvent):
    """The owner gives the aggregate to ``to_site``: the base of every context's own
    (:mod:`shared.transfer`)."""

    to_site: str


class OwnershipTakenOver(DomainEvent):
    """This site owns the aggregate from now on: the first event under its subjects."""

    from_site: str
    released_id: str  # the release's event id


async def owner_of(store: EventStore, aggregate: Aggregate) -> Aggregate | None:
    """The same aggregate at the site whose subjects hold its events, if another site's."""
    subjects = f"{aggregate.context}.*.{aggregate.type}.{aggregate.id}.*"
    for message in await store.read_raw(aggregate.stream, subjects):
        site = message.subject.split(".")[1]
        if site != aggregate.site:
            return Aggregate(aggregate.context, site, aggregate.type, aggregate.id)
    return None


async def owning_site(js: Any, aggregate: Aggregate) -> str | None:
    """The site whose subjects hold the aggregate's first event (one direct get), whichever
    site ``aggregate`` names; None if no site's do. For reads that say who owns a record."""
    subjects = f"{aggregate.context}.*.{aggregate.type}.{aggregate.id}.*"
    try:
        msg = await js.get_msg(aggregate.stream, seq=1, subject=subjects, next=True, direct=True)
    except NotFoundError:
        return None
    subject = getattr(msg, "subject", None) or ""
    parts = subject.split(".")
    return parts[1] if len(parts) > 2 else None
