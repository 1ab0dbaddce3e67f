"""One integrator's copy of the public feed: every internal event that has a public model,
in that shape, with that integrator's pseudonyms, published on
``public.<integrator>.<site>.<context>.<EventName>`` into the PUBLIC stream. An event type
without a public model is skipped unread.

It is a projection without tables: its checkpoint makes it resume where it stopped, and the
public event id as ``Nats-Msg-Id`` makes a republish after a crash a duplicate the server
drops."""

from __future__ import annotations

from dataclasses import replace
from datetime import tzinfo
from typing import Any

from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
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

PUBLISHED_CONTEXTS = ("intake", "referral", "casework")


def public_subject(integrator: str, recorded: RecordedEvent) -> str:
    aggregate = recorded.aggregate
    return (
        f"{PUBLIC_PREFIX}.{integrator}.{aggregate.site}.{aggregate.context}.{recorded.event.name}"
    )


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


def feed_projection(js: JetStreamContext, integrator: Integrator, zone: tzinfo) -> Projection:
    publication = Publication(Pseudonyms(integrator.key), zone)
    projection = Projection(
        name=f"reporting.public_feed.{integrator.name}", version=1, metadata=MetaData()
    )

    for model in public_registry.all():

        async def republish(
            conn: AsyncConnection, recorded: RecordedEvent, model: type[PublicEvent] = model
        ) -> None:
            envelope = public_envelope(recorded, model, publication)
            await js.publish(
                public_subject(integrator.name, recorded),
                canonical_json(envelope),
                stream=PUBLIC_STREAM,
                headers={"Nats-Msg-Id": envelope["id"]},
            )

        projection.on(model.source.context, model.source.name)(republish)
    return projection


def public_stream_config(*, replicas: int, retention_days: int) -> StreamConfig:
    """Every integrator's copy, kept as long as the deployment chooses (default: forever);
    services can neither delete nor purge it."""
    return StreamConfig(
        name=PUBLIC_STREAM,
        description="Relais public feed: each integrator's de-identified copy",
        subjects=[f"{PUBLIC_PREFIX}.>"],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        num_replicas=replicas,
        max_msgs=-1,
        max_bytes=-1,
        max_age=retention_days * 86_400.0,
        max_msgs_per_subject=-1,
        discard=DiscardPolicy.OLD,
        duplicate_window=86_400.0,
        deny_delete=True,
        deny_purge=True,
        allow_direct=True,
    )


async def ensure_public_stream(js: JetStreamContext, *, replicas: int, retention_days: int) -> None:
    want = public_stream_config(replicas=replicas, retention_days=retention_days)
    try:
        have = (await js.stream_info(PUBLIC_STREAM)).config
    except NotFoundError:
        await js.add_stream(want)
        return
    if (have.subjects, have.max_age or 0.0, have.allow_direct) != (
        want.subjects,
        want.max_age,
        want.allow_direct,
    ):
        await js.update_stream(replace(want, num_replicas=have.num_replicas or replicas))
