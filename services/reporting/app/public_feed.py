"""One integrator's copy of the public feed: every internal event that has a public model,
in that shape, with that integrator's pseudonyms, published on
``public.<integrator>.<site>.<context>.<EventName>`` into the PUBLIC stream (``<site>`` is
the publishing instance's: at each site, PUBLIC captures only its own reporting's copies; the
event's own site is in the envelope's ``source``). An event type without a public model is
skipped unread.

It is a projection without tables: its checkpoint makes it resume where it stopped, and the
public event id as ``Nats-Msg-Id`` makes a republish after a crash a duplicate the server
drops."""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.public.base import (
    AGGREGATE_KINDS,
    Pseudonyms,
    Publication,
    PublicEvent,
    public_registry,
)
from shared.envelope import canonical_json
from shared.integrators import PUBLIC_PREFIX, PUBLIC_STREAM, Integrator
from shared.projection import Projection
from shared.recorded import RecordedEvent
from shared.streams import stream_name

PUBLISHED_CONTEXTS = ("intake", "referral", "casework")


FEED_NAME = "reporting.public_feed"


def feed_consumers(name: str) -> list[tuple[str, str]]:
    """The durable consumers one integrator's feed uses (for the NATS accounts): its
    projection's on the log, and the integrator's own on PUBLIC (reporting creates it)."""
    projection = FEED_NAME.replace(".", "_") + f"_{name}"
    return [*((stream_name(c), projection) for c in PUBLISHED_CONTEXTS), (PUBLIC_STREAM, name)]


def public_subject(integrator: str, site: str, recorded: RecordedEvent) -> str:
    context, name = recorded.aggregate.context, recorded.event.name
    return f"{PUBLIC_PREFIX}.{integrator}.{site}.{context}.{name}"


def public_envelope(
    recorded: RecordedEvent, model: type[PublicEvent], publication: Publication
) -> dict[str, Any]:
    """CloudEvents 1.0 with nothing internal: the event's and the aggregate's ids are the
    integrator's pseudonyms, the time is the day, no actor, no signature, no correlation."""
    aggregate = recorded.aggregate
    day = publication.day(recorded.time)
    return {
        "specversion": "1.0",
        "id": publication.p("event", recorded.id),
        "source": f"/relais/{aggregate.site}/{aggregate.context}",
        "type": model.type_name(),
        "subject": publication.p(AGGREGATE_KINDS[aggregate.type], aggregate.id),
        "datacontenttype": "application/json",
        "aggregatetype": aggregate.type,
        "day": day.isoformat() if day else None,
        "data": model.of(recorded.event, publication).model_dump(mode="json"),
    }


def feed_projection(
    js: JetStreamContext, integrator: Integrator, site: str, zone: tzinfo
) -> Projection:
    publication = Publication(Pseudonyms(integrator.key), zone)
    projection = Projection(name=f"{FEED_NAME}.{integrator.name}", version=1, metadata=MetaData())

    for model in public_registry.all():

        async def republish(
            conn: AsyncConnection, recorded: RecordedEvent, model: type[PublicEvent] = model
        ) -> None:
            envelope = public_envelope(recorded, model, publication)
            await js.publish(
                public_subject(integrator.name, site, recorded),
                canonical_json(envelope),
                stream=PUBLIC_STREAM,
                headers={"Nats-Msg-Id": envelope["id"]},
            )

        projection.on(model.source.context, model.source.name)(republish)
    return projection


async def retire_feed(js: JetStreamContext, name: str) -> None:
    """Remove a revoked integrator's consumers: its own on PUBLIC (its copy stays, readable by
    nobody outside) and its feed's on the log, which would otherwise be kept for ever."""
    for stream, consumer in feed_consumers(name):
        try:
            await js.delete_consumer(stream, consumer)
        except NotFoundError:
            pass
