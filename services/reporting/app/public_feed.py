"""The de-identified feed integrators subscribe to: every intake, referral and casework event,
stripped of the fields its model marks sensitive (names, birth dates, narratives) and of the
acting person, republished on ``public.<site>.<context>.<EventName>`` into the PUBLIC stream.

It is a projection without tables: its checkpoint makes it resume where it stopped, and the
event id as ``Nats-Msg-Id`` makes a republish after a crash a duplicate the server drops."""

from __future__ import annotations

import asyncio
from typing import Any

from nats.js import JetStreamContext
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncConnection

import contracts
from shared.envelope import canonical_json
from shared.projection import Projection, StreamProjector
from shared.projection_schema import prepare
from shared.recorded import RecordedEvent
from shared.service import Runtime
from shared.streams import PUBLIC, StreamMisconfigured, check_streams, describe, stream_name

PUBLISHED_CONTEXTS = ("intake", "referral", "casework")
KEPT_ATTRIBUTES = (
    "specversion",
    "id",
    "source",
    "type",
    "subject",
    "time",
    "datacontenttype",
    "aggregatetype",
    "aggregateversion",
    "actoragency",
    "correlationid",
    "causationid",
)


def deidentify(recorded: RecordedEvent) -> dict[str, Any]:
    """The public form of an event: no sensitive field, no user id, no signature (the
    original stays verifiable in the private log)."""
    hidden = type(recorded.event).sensitive_fields
    envelope = {k: recorded.envelope[k] for k in KEPT_ATTRIBUTES if k in recorded.envelope}
    envelope["data"] = {k: v for k, v in recorded.envelope["data"].items() if k not in hidden}
    envelope["relaisredacted"] = sorted(hidden & set(recorded.envelope["data"]))
    return envelope


def public_subject(recorded: RecordedEvent) -> str:
    aggregate = recorded.aggregate
    return f"public.{aggregate.site}.{aggregate.context}.{recorded.event.name}"


FEED_NAME = "reporting.public_feed"
# The feed's durable consumers, declared in the service's spec for the NATS accounts.
FEED_CONSUMERS = tuple((stream_name(c), FEED_NAME.replace(".", "_")) for c in PUBLISHED_CONTEXTS)


def feed_projection(js: JetStreamContext) -> Projection:
    contracts.load_all()
    projection = Projection(name=FEED_NAME, version=1, metadata=MetaData())

    async def republish(conn: AsyncConnection, recorded: RecordedEvent) -> None:
        await js.publish(
            public_subject(recorded),
            canonical_json(deidentify(recorded)),
            headers={"Nats-Msg-Id": recorded.id},
        )

    for context in PUBLISHED_CONTEXTS:
        projection.on_any(context)(republish)
    return projection


async def run_public_feed(runtime: Runtime) -> None:
    """Background loop of the reporting service."""
    assert runtime.nc is not None and runtime.engine is not None
    js = runtime.nc.jetstream()
    # The operator creates the PUBLIC stream (relais up, relais streams apply).
    problems = await check_streams(
        js, runtime.settings.site, contexts=(PUBLIC,), replicas=runtime.settings.nats_replicas
    )
    if problems:
        raise StreamMisconfigured(describe(problems))
    projection = feed_projection(js)
    await prepare(runtime.engine, projection)
    projectors = [
        StreamProjector(
            projection,
            stream_name(c),
            runtime.engine,
            js,
            batch_size=runtime.settings.projector_batch,
        )
        for c in PUBLISHED_CONTEXTS
    ]
    runtime.projectors.extend(projectors)
    await asyncio.gather(*(p.run() for p in projectors))
