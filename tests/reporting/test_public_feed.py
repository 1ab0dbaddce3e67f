"""The public feed is safe by construction (issue 14): every event type of intake, referral
and casework is built from its model with a unique marker in every string, stored through the
real event store and projected by the real feed for two integrators; nothing published may
hold a marker, an internal id, a user or any other attribute of the internal envelope."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from nats.aio.client import Client as NATS
from nats.js.errors import NotFoundError
from sqlalchemy.ext.asyncio import AsyncEngine

import contracts
from contracts import casework, intake
from contracts.public.base import PSEUDONYM_PATTERN, PublicEvent, public_registry
from services.reporting.app.public_feed import PUBLISHED_CONTEXTS
from services.reporting.service import spec
from shared import integrators
from shared.config import Settings
from shared.envelope import Actor, Aggregate
from shared.events import DomainEvent, registry
from shared.eventstore import EventStore
from shared.nats_store import NatsEventStore
from shared.reading import ReadError, iter_stored
from shared.service import create_app
from shared.signing import SigningKey
from shared.streams import ensure_streams
from tests.reporting.feed_support import integrator, run_feed
from tests.reporting.markers import Markers

pytestmark = pytest.mark.connected

ENVELOPE_SECRETS = ("id", "actor", "correlationid", "causationid", "keyid", "signature")


async def test_planted_markers_never_reach_the_feed(nc: NATS, engine: AsyncEngine) -> None:
    contracts.load_all()
    js = nc.jetstream()
    await ensure_streams(js, "hq", contexts=(*PUBLISHED_CONTEXTS, "audit"))
    markers = Markers()
    store = NatsEventStore(
        nc,
        key=SigningKey.generate(),
        source=f"/relais/hq/{markers.new('source')}/1",
        site="hq",
        writable_contexts=PUBLISHED_CONTEXTS,
    )
    actor = Actor(user=markers.new("actor.user"), agency=markers.new("actor.agency"), role="x")
    internal: set[str] = set()
    models = [
        m
        for m in registry.all()
        if m.context in PUBLISHED_CONTEXTS and m.__module__.startswith("contracts.")
    ]
    for model in models:
        event = markers.build(model)
        assert isinstance(event, DomainEvent)
        aggregate = Aggregate(model.context, "hq", model.aggregate, markers.new("aggregate id"))
        written = await store.append(
            aggregate,
            0,
            [event],
            actor=actor,
            correlation_id=markers.new("correlation id"),
            causation_id=markers.new("causation id"),
        )
        internal |= {str(written.events[0].envelope.get(k) or "") for k in ENVELOPE_SECRETS}
    # One case followed across events, and a child across contexts: the pseudonym stability.
    followed = await _one_case_followed(store, actor)

    acme, stats = integrator("acme"), integrator("stats")
    for who in (acme, stats):
        await run_feed(nc, engine, who)

    published = [(subject, msg) async for _, subject, msg in iter_stored(nc, "PUBLIC", ">")]
    everything = "\n".join(
        f"{subject} {json.dumps(dict(msg.headers or {}))} {msg.data.decode()}"
        for subject, msg in published
    )
    leaked = [m for m in markers.planted if m in everything]
    assert leaked == [], [markers.planted[m] for m in leaked]
    assert [v for v in internal - {""} if v in everything] == []
    assert not any(v in everything for v in followed.values())

    by_integrator: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for subject, msg in published:
        _, name, site, context, event_name = subject.split(".")
        envelope = json.loads(msg.data)
        by_integrator[name].append(envelope)
        assert (site, context) == ("hq", envelope["type"].split(".")[3])
        assert envelope["type"].endswith(f".{event_name}.v1")
        assert msg.headers and msg.headers["Nats-Msg-Id"] == envelope["id"]
        assert set(envelope) == {
            "specversion",
            "id",
            "source",
            "type",
            "subject",
            "datacontenttype",
            "aggregatetype",
            "day",
            "data",
        }
        model = _public_model(envelope["type"])
        assert model.model_validate(envelope["data"]).model_dump(mode="json") == envelope["data"]

    # Exactly the event types that have a public model were published, for each integrator.
    wanted = sorted(m.type_name() for m in public_registry.all())
    for who in (acme, stats):
        types_seen = sorted({e["type"] for e in by_integrator[who.name]})
        assert types_seen == wanted
    _pseudonyms_are_stable_and_private(by_integrator["acme"], by_integrator["stats"], followed)


async def _one_case_followed(store: EventStore, actor: Actor) -> dict[str, str]:
    ids = {"case": "case-0001-internal", "child": "child-0001-internal", "unit": "unit-77"}
    markers = Markers("FW")
    case = Aggregate("casework", "hq", "case", ids["case"])
    opened = markers.build(casework.CaseOpened)
    opened = opened.model_copy(update={"case_id": ids["case"], "child_id": ids["child"]})
    served = markers.build(casework.ServiceDelivered).model_copy(
        update={"child_id": ids["child"], "unit": ids["unit"]}
    )
    first = await store.append(case, 0, [opened], actor=actor)
    await store.append(case, first.head.seq, [served], actor=actor)
    return ids


def _pseudonyms_are_stable_and_private(
    acme: list[dict[str, Any]], stats: list[dict[str, Any]], ids: dict[str, str]
) -> None:
    def about_the_followed_case(feed: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """The events of the one case with both an opening and a service."""
        by_case: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
        for e in feed:
            if e["aggregatetype"] == "case":
                by_case[e["subject"]][e["type"].split(".")[4]] = e
        (followed,) = [c for c in by_case.values() if len(c) == 2]
        return followed

    mine, theirs = about_the_followed_case(acme), about_the_followed_case(stats)
    assert {"CaseOpened", "ServiceDelivered"} <= set(mine)
    # Stable for one integrator: the case and the child are recognisable across events.
    opened, served = mine["CaseOpened"], mine["ServiceDelivered"]
    assert opened["subject"] == served["subject"] == opened["data"]["case"]
    assert opened["data"]["child"] == served["data"]["child"]
    # Different for another integrator, and nothing like the internal ids.
    assert theirs["CaseOpened"]["data"]["case"] != opened["data"]["case"]
    assert theirs["CaseOpened"]["data"]["child"] != opened["data"]["child"]
    for feed in (acme, stats):
        for envelope in feed:
            assert envelope["id"].startswith("event_")
            for value in [*_strings(envelope["data"]), envelope["subject"], envelope["id"]]:
                assert value not in ids.values()
    assert re.fullmatch(PSEUDONYM_PATTERN, opened["data"]["case"])


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _public_model(type_name: str) -> type[PublicEvent]:
    for model in public_registry.all():
        if model.type_name() == type_name:
            return model
    raise AssertionError(f"no public model for {type_name}")


async def test_reporting_follows_the_registry_while_it_runs(
    nats_url: str, pg_server_url: str, nc: NATS, tmp_path: Path
) -> None:
    """An integrator added while reporting runs gets its copy from the start of the log and
    its consumer; a revoked one gets nothing more, and its consumer is gone."""
    js = nc.jetstream()
    await ensure_streams(js, "hq", contexts=("intake", "audit"))
    store = NatsEventStore(
        nc, key=SigningKey.generate(), source="/t", site="hq", writable_contexts=("intake",)
    )
    actor = Actor(user="awa", agency="ocpm", role="screener")
    registered = Markers().build(intake.ReportRegistered)

    async def report(report_id: str) -> None:
        event = registered.model_copy(update={"report_id": report_id})
        await store.append(Aggregate("intake", "hq", "report", report_id), 0, [event], actor=actor)

    async def copies(name: str) -> int:
        try:
            return len([m async for m in iter_stored(nc, "PUBLIC", f"public.{name}.>")])
        except ReadError:
            return 0

    async def until(check: Any) -> None:
        for _ in range(300):
            if await check():
                return
            await asyncio.sleep(0.05)
        raise AssertionError("not in time")

    await report("r1")
    settings = Settings(
        nats_url=nats_url,
        database_url=pg_server_url,
        data_dir=tmp_path,
        database_prefix=f"t{uuid.uuid4().hex[:10]}_",
        integrators_poll_s=0.1,
    )
    app = create_app(spec, settings)
    await app.state.runtime.start()
    try:
        integrators.add(settings.integrators_path, "acme")
        integrators.add(settings.integrators_path, "stats")
        await until(lambda: _both(copies, 1))
        assert (await js.consumer_info("PUBLIC", "acme")).config.filter_subject == "public.acme.>"

        integrators.revoke(settings.integrators_path, "acme")

        async def consumer_gone() -> bool:
            try:
                await js.consumer_info("PUBLIC", "acme")
            except NotFoundError:
                return True
            return False

        await until(consumer_gone)
        await report("r2")
        await until(lambda: _more(copies, "stats", 2))
        assert await copies("acme") == 1
        names = {p["projection"] for p in (await app.state.runtime.health())[1]["projectors"]}
        assert "reporting.public_feed.stats" in names
        assert "reporting.public_feed.acme" not in names
    finally:
        await app.state.runtime.stop()


async def _both(copies: Any, n: int) -> bool:
    return bool(await copies("acme") >= n and await copies("stats") >= n)


async def _more(copies: Any, name: str, n: int) -> bool:
    return bool(await copies(name) >= n)
