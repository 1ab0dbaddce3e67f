"""Integrators' feed: every event republished without the fields marked sensitive."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

from nats.aio.client import Client as NATS

from contracts.referral import Consent, ReferralMade
from services.reporting.service import spec
from shared.config import Settings
from shared.envelope import Actor, Aggregate
from shared.eventstore import EventStore
from shared.reading import iter_stored
from shared.service import create_app
from shared.signing import SigningKey
from shared.streams import ensure_streams

SECRET = "Aminata Kossi, 12 ans, frappée par son oncle"


async def test_sensitive_fields_and_people_never_reach_the_public_feed(
    nats_url: str, pg_server_url: str, nc: NATS, tmp_path: Path
) -> None:
    await ensure_streams(nc.jetstream(), "hq", contexts=("referral", "audit"))
    store = EventStore(
        nc,
        key=SigningKey.generate(),
        source="/t/referral",
        site="hq",
        writable_contexts=("referral",),
    )
    made = ReferralMade(
        referral_id="ref-1",
        case_id="case-1",
        child_id="child-1",
        from_agency="ocpm",
        to_agency="ong-1",
        to_unit="shelter-1",
        service_kind="transit_shelter",
        urgency="emergency",
        reason=SECRET,
        consent=Consent(given=True, given_by="guardian"),
        shared_fields=["child_age_band"],
        due_at="2026-11-24T08:00:00Z",
    )
    written = await store.append(
        Aggregate("referral", "hq", "referral", "ref-1"),
        0,
        [made],
        actor=Actor(user="awa.dossou", agency="ocpm", role="case_worker"),
    )

    settings = Settings(
        nats_url=nats_url,
        database_url=pg_server_url,
        data_dir=tmp_path,
        database_prefix=f"t{uuid.uuid4().hex[:10]}_",
    )
    app = create_app(spec, settings)
    await app.state.runtime.start()
    try:
        published = []
        for _ in range(100):
            try:
                published = [(subj, m) async for _, subj, m in iter_stored(nc, "PUBLIC", ">")]
            except Exception:
                published = []
            if published:
                break
            await asyncio.sleep(0.1)
        assert len(published) == 1
        subject, message = published[0]
        raw = message.data.decode()
        assert SECRET not in raw and "awa.dossou" not in raw
        public = json.loads(raw)
        assert subject == "public.hq.referral.ReferralMade"
        assert public["id"] == written.events[0].id
        assert public["data"]["referral_id"] == "ref-1" and "reason" not in public["data"]
        assert public["relaisredacted"] == ["reason"] and public["actoragency"] == "ocpm"
    finally:
        await app.state.runtime.stop()
