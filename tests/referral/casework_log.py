"""Casework's side of the conversation, written straight to the CASEWORK stream with its own
event store (referral only ever sees casework's events, never its service)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import select

from contracts.casework import (
    CaseOpened,
    ReferralRequested,
    RequestedConsent,
    TransferAccepted,
)
from services.referral.read.cases import case_owner, referral_requests
from shared.envelope import Actor, Aggregate
from shared.events import DomainEvent
from shared.eventstore import EventStore
from shared.recorded import RecordedEvent
from shared.signing import SigningKey
from tests.referral.conftest import Service

WORKER = Actor(user="awa", agency="ocpm", role="case_worker")


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    for _ in range(600):
        if await check():
            return
        await asyncio.sleep(0.025)
    raise AssertionError(f"never happened: {what}")


class Casework:
    def __init__(self, svc: Service, site: str = "hq") -> None:
        self.svc = svc
        self.site = site
        self.store = EventStore(
            svc.runtime.nc,
            key=SigningKey.generate(),
            source=f"/t/{site}/casework",
            site=site,
            writable_contexts=("casework",),
        )
        self.heads: dict[str, int] = {}

    async def append(
        self, case_id: str, event: DomainEvent, actor: Actor = WORKER
    ) -> RecordedEvent:
        result = await self.store.append(
            Aggregate("casework", self.site, "case", case_id),
            self.heads.get(case_id, 0),
            [event],
            actor=actor,
        )
        self.heads[case_id] = result.events[-1].seq
        return result.events[-1]

    async def open_case(
        self, case_id: str, child_id: str, agency: str = "ocpm", **extra: Any
    ) -> None:
        values: dict[str, Any] = {
            "case_id": case_id,
            "child_id": child_id,
            "sex": "female",
            "age_band": "10-14",
            "report_id": "r-1",
            "agency": agency,
            "commune": "bj-donga-djougou",
            "concerns": ["child_labour"],
            "urgency": "high",
            "initial_risk": "high",
            "received_at": "2026-11-23T08:00:00Z",
            "registration_due_at": "2026-11-24T08:00:00Z",
            **extra,
        }
        await self.append(case_id, CaseOpened(**values))
        if self.site == self.svc.runtime.settings.site:
            await eventually(lambda: self._owned_by(case_id, agency), "referral learns of the case")

    async def transfer(self, case_id: str, from_agency: str, to_agency: str) -> None:
        await self.append(
            case_id,
            TransferAccepted(
                transfer_id=f"t-{case_id}",
                from_agency=from_agency,
                to_agency=to_agency,
                accepted_by="coordinator-b",
            ),
        )
        await eventually(lambda: self._owned_by(case_id, to_agency), "the transfer is known")

    async def _owned_by(self, case_id: str, agency: str) -> bool:
        owner = await case_owner(self.svc.runtime.engine, case_id)
        return owner is not None and owner[0] == agency

    async def request(
        self, case_id: str, referral_id: str, *, wait: bool = True, **overrides: Any
    ) -> RecordedEvent:
        """A plan action asking for a referral; waits until referral has it as pending."""
        values: dict[str, Any] = {
            "referral_id": referral_id,
            "action_id": f"action-{referral_id}",
            "child_id": "child-a",
            "from_agency": "ocpm",
            "to_unit": "transit",
            "service_kind": "transit_shelter",
            "urgency": "emergency",
            "reason": "Needs a safe bed tonight",
            "consent": RequestedConsent(
                given=True, given_by="guardian", given_at="2026-03-02T08:00:00Z"
            ),
            "shared_fields": ["child_age_band", "urgency"],
            **overrides,
        }
        recorded = await self.append(case_id, ReferralRequested(**values))
        if wait:
            await eventually(lambda: self._requested(referral_id), "the request is pending")
        return recorded

    async def _requested(self, referral_id: str) -> bool:
        async with self.svc.runtime.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(referral_requests.c.status).where(
                        referral_requests.c.referral_id == referral_id
                    )
                )
            ).first()
        return row is not None
