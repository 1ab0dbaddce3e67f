"""What the periodic report tests share: a monthly bulletin's definition, reports of January
to March 2026 (and late ones), and the report events the log holds."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from nats.aio.client import Client as NATS

from contracts import intake as it
from shared.envelope import Actor, Aggregate
from shared.eventstore import EventStore
from shared.reading import iter_stored
from shared.signing import SigningKey
from shared.streams import ensure_streams

CHANNELS = ["hotline_116", "police", "school"]
DEFINITION: dict[str, Any] = {
    "title_en": "Monthly child protection bulletin",
    "title_fr": "Bulletin mensuel de protection de l'enfant",
    "items": [
        {"indicator": "reports_received", "by": ["channel"]},
        {"indicator": "reports_received", "by": ["sex"]},
        {"indicator": "reports_screened_within_deadline"},
    ],
    "period_kind": "month",
    "due_days": 10,
    "first_period": "2026-01",
}


def intake_store(nc: NATS) -> EventStore:
    return EventStore(
        nc, key=SigningKey.generate(), source="/t/intake", site="hq", writable_contexts=("intake",)
    )


async def register_report(
    store: EventStore, report_id: str, channel: str, received: datetime, sex: str = "female"
) -> None:
    await store.append(
        Aggregate("intake", "hq", "report", report_id),
        0,
        [
            it.ReportRegistered(
                report_id=report_id,
                agency="ocpm",
                channel=channel,
                received_at=received.isoformat(),
                commune="bj-littoral-cotonou",
                concerns=["neglect"],
                children=[it.ReportedChild(child_id=f"c-{report_id}", sex=sex)],
                urgency="normal",
            )
        ],
        actor=Actor(user="op", agency="ocpm", role="hotline_operator"),
    )


async def write_reports(nc: NATS) -> dict[str, dict[str, int]]:
    """Reports in January to March 2026; returns the count per month and channel."""
    await ensure_streams(nc.jetstream(), "hq", contexts=("intake", "referral", "casework", "audit"))
    store = intake_store(nc)
    counts: dict[str, dict[str, int]] = {}
    for n in range(45):
        month = 1 + n % 3
        channel = CHANNELS[0] if n % 5 else CHANNELS[1 + n % 2]
        received = datetime(2026, month, 1 + n % 27, 9, tzinfo=UTC)
        by_channel = counts.setdefault(f"2026-{month:02d}", {})
        by_channel[channel] = by_channel.get(channel, 0) + 1
        await register_report(store, f"r-{n}", channel, received)
    return counts


async def stored(nc: NATS, subject: str) -> list[dict[str, Any]]:
    """The data of every event on AUDIT under ``subject``, in order."""
    return [json.loads(msg.data)["data"] async for _, _, msg in iter_stored(nc, "AUDIT", subject)]
