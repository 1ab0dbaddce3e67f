"""A generated national data set written to the real log: a directory, staff and training in
REFERRAL, about a hundred reports in INTAKE, the cases they lead to in CASEWORK, referrals,
services and closures; a few hundred events in all.

Every fact is also kept as plain Python (``Story``, :mod:`tests.reporting.story_facts`), so
tests can work out each indicator's true value on their own, without the reporting code.
Streams are written referral first, then casework, then intake: the projection meets
referrals and services of cases it has not seen opened, and cases of reports it has not seen
registered."""

from __future__ import annotations

from nats.aio.client import Client as NATS

from shared.nats_store import NatsEventStore
from shared.signing import SigningKey
from shared.streams import ensure_streams
from tests.reporting.story_facts import Story
from tests.reporting.story_generation import generate
from tests.reporting.story_log import Writer, write_casework, write_referral


async def write_story(nc: NATS, seed: int = 7) -> Story:
    await ensure_streams(nc.jetstream(), "hq", contexts=("intake", "referral", "casework", "audit"))
    store = NatsEventStore(
        nc,
        key=SigningKey.generate(),
        source="/t/generator",
        site="hq",
        writable_contexts=("intake", "referral", "casework"),
    )
    story, intake = generate(seed)
    w = Writer(store, story)
    await write_referral(w, story)
    await write_casework(w, story)

    # -- INTAKE ---------------------------------------------------------------------------
    for kind, agg_id, _, event in intake:
        await w.write("intake", kind, agg_id, event)
    return story
