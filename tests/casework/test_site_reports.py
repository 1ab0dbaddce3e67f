"""A report screened at an office for a child whose open case the hub keeps, on two real sites
with a read model each (decision 0029, follow-up): the hub attaches it to its case, the office
leaves it alone without trying (no append, no warning at every pass) and opens a case only for
the report's other child, who has none; the row is done at both sites once the attachment is
projected."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from nats.aio.client import Client as NATS
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.intake import AcceptedChild, ReportAccepted
from services.casework.app.processes import case_opener
from services.casework.read import projection
from services.casework.read.tables import cases, pending
from shared.commands import Commands
from shared.config import with_database
from shared.db import ensure_database, make_engine
from shared.envelope import Actor, Aggregate
from shared.nats_store import NatsEventStore
from shared.projection import StreamProjector
from shared.projection_schema import prepare
from shared.reading import iter_stored
from shared.signing import SigningKey
from tests.sites_support import eventually, two_sites

pytestmark = [pytest.mark.system, pytest.mark.xdist_group("deployments")]

SCREENER = Actor(user="screener-1", agency="ocpm", role="screener")
OPENER = case_opener()
SOURCED_S = 30


class Site:
    """One site's casework as its processes see it: its log (through the site's own server)
    and its own read model, projected on demand."""

    def __init__(self, nc: NATS, name: str, engine: AsyncEngine) -> None:
        self.nc, self.name, self.engine = nc, name, engine
        self.store = self._store("casework")
        self.intake = self._store("intake")
        self.appends: list[Aggregate] = []
        append = self.store.append

        async def counted(aggregate: Aggregate, *args: Any, **kwargs: Any) -> Any:
            self.appends.append(aggregate)  # every attempt, stored or refused
            return await append(aggregate, *args, **kwargs)

        self.store.append = counted  # type: ignore[method-assign]
        self.ports = SimpleNamespace(
            commands=Commands(self.store, site=name),
            engine=engine,
            settings=SimpleNamespace(site=name, casework_standards_file=None),
            clock=lambda: datetime.now(UTC),
        )

    def _store(self, service: str) -> NatsEventStore:
        """The store a service of this site appends with: its own key, its own context."""
        return NatsEventStore(
            self.nc,
            key=SigningKey.generate(),
            source=f"/relais/{self.name}/{service}/1",
            site=self.name,
            writable_contexts=(service,),
        )

    async def accept(self, report_id: str, *children: str) -> None:
        """Intake at this site accepts a report on ``children``."""
        received = datetime.now(UTC) - timedelta(hours=1)
        event = ReportAccepted(
            report_id=report_id,
            children=[
                AcceptedChild(child_id=c, sex="female", age_years=12, age_band="10-14")
                for c in children
            ],
            concerns=["neglect"],
            urgency="normal",
            commune="parakou",
            agency="ocpm",
            unit="ocpm-parakou",
            received_at=received.isoformat(),
            accepted_at=datetime.now(UTC).isoformat(),
            immediate_danger=False,
        )
        report = Aggregate("intake", self.name, "report", report_id)
        await self.intake.append(report, 0, [event], actor=SCREENER)

    async def project(self) -> None:
        """Apply everything this site's streams hold now (its own events and those sourced)."""
        js = self.nc.jetstream()
        for stream in ("INTAKE", "CASEWORK"):
            last = int((await js.stream_info(stream)).state.last_seq)
            await StreamProjector(projection, stream, self.engine, js).run(until_seq=last)

    async def opens(self) -> int:
        return await OPENER.run_once(self.ports)  # type: ignore[arg-type]

    async def row(self, report_id: str, child_id: str) -> str | None:
        async with self.engine.connect() as conn:
            status = await conn.scalar(
                select(pending.c.status)
                .where(pending.c.report_id == report_id)
                .where(pending.c.child_id == child_id)
            )
        return str(status) if status is not None else None

    async def case_of(self, child_id: str) -> tuple[str, str]:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(cases.c.case_id, cases.c.site).where(cases.c.child_id == child_id)
                )
            ).one()
        return str(row.case_id), str(row.site)


async def names(nc: NATS, pattern: str) -> list[str]:
    return [s.rsplit(".", 1)[1] async for _, s, _ in iter_stored(nc, "CASEWORK", pattern)]


async def holds(nc: NATS, stream: str, pattern: str) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return any([True async for _ in iter_stored(nc, stream, pattern)])

    return check


@asynccontextmanager
async def read_model(pg_server_url: str) -> AsyncIterator[AsyncEngine]:
    url = with_database(pg_server_url, f"t_{uuid.uuid4().hex[:16]}")
    await ensure_database(url)
    engine = make_engine(url, pool_size=2)
    try:
        await prepare(engine, projection)
        yield engine
    finally:
        await engine.dispose()


async def test_an_office_report_on_a_hub_case_is_attached_by_the_hub(
    tmp_path: Path, pg_server_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with (
        two_sites(tmp_path, "casework", also=("intake",), both_ways=True) as (hub_nc, office_nc),
        read_model(pg_server_url) as hub_db,
        read_model(pg_server_url) as office_db,
    ):
        hub, office = Site(hub_nc, "hq", hub_db), Site(office_nc, "parakou", office_db)

        # The hub screens a first report on child C and opens the case.
        await hub.accept("r-hub", "child-c")
        await hub.project()
        assert await hub.opens() == 1
        await hub.project()
        case_c, kept_at = await hub.case_of("child-c")
        assert kept_at == "hq"
        await eventually(
            await holds(office_nc, "CASEWORK", f"casework.hq.case.{case_c}.>"),
            "the hub's case sourced by the office",
            SOURCED_S,
        )

        # The office screens a report on C and on D, who has no case anywhere.
        await office.accept("r-office", "child-c", "child-d")
        await office.project()
        caplog.set_level(logging.WARNING, logger="shared.process")
        assert await office.opens() == 1  # D's case; C's is the hub's to attach
        (opened,) = office.appends
        assert (opened.site, opened.type) == ("parakou", "case")
        await office.project()  # as a running site settles each reaction
        assert await office.row("r-office", "child-c") == "pending"
        assert await office.opens() == 0  # and no loop: nothing tried again
        assert len(office.appends) == 1
        assert not [r for r in caplog.records if r.levelno >= logging.WARNING]

        # The hub, once it holds the office's report, attaches it to its own case.
        await eventually(
            await holds(hub_nc, "INTAKE", "intake.parakou.report.r-office.>"),
            "the office's report sourced by the hub",
            SOURCED_S,
        )
        await hub.project()
        assert await hub.opens() == 1
        assert await names(hub_nc, f"casework.hq.case.{case_c}.>") == [
            "CaseOpened", "ReportAttachedToCase"
        ]  # fmt: skip
        await hub.project()
        assert await hub.row("r-office", "child-c") == "done"
        assert await hub.opens() == 0  # D's row is the office's, whatever the hub holds of it
        assert [a.id for a in hub.appends] == [case_c, case_c]  # opened, then the attachment

        # The office gets the attachment by sourcing, and its row is settled by it.
        await eventually(
            await holds(office_nc, "CASEWORK", f"casework.hq.case.{case_c}.ReportAttachedToCase"),
            "the hub's attachment sourced by the office",
            SOURCED_S,
        )
        await office.project()
        assert await office.row("r-office", "child-c") == "done"
        assert await office.row("r-office", "child-d") == "done"
        assert await office.opens() == 0
        assert len(office.appends) == 1
        assert await names(office_nc, "casework.parakou.>") == ["CaseOpened"]
