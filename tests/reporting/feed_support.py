"""Shared pieces of the integrator tests: integrators without a registry file, and running one
integrator's feed projection over what the log holds."""

from __future__ import annotations

import base64
import secrets
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from nats.aio.client import Client as NATS
from nats.js.errors import NotFoundError
from sqlalchemy.ext.asyncio import AsyncEngine

from services.reporting.app.public_feed import PUBLISHED_CONTEXTS, feed_projection
from shared.integrators import Integrator, Webhook
from shared.projection import StreamProjector
from shared.projection_schema import prepare
from shared.streams import stream_name


def integrator(name: str, webhook: Webhook | None = None) -> Integrator:
    return Integrator(
        name=name,
        created_at=datetime.now(UTC),
        password_hash="unused",
        pseudonym_key=base64.b64encode(secrets.token_bytes(32)).decode(),
        webhook=webhook,
    )


async def run_feed(nc: NATS, engine: AsyncEngine, who: Integrator) -> None:
    """Publish ``who``'s copy of everything the three streams hold now, then return."""
    js = nc.jetstream()
    projection = feed_projection(js, who, "hq", ZoneInfo("Africa/Porto-Novo"))
    await prepare(engine, projection)
    for context in PUBLISHED_CONTEXTS:
        stream = stream_name(context)
        try:
            last = int((await js.stream_info(stream)).state.last_seq)
        except NotFoundError:
            continue  # a test that writes no such events
        await StreamProjector(projection, stream, engine, js).run(until_seq=last)
