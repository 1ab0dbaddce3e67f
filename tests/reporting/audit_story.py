"""One case told across INTAKE, REFERRAL and CASEWORK, with the noise an audit must leave
out (a sibling's case) and the events it must keep (a type nobody registered)."""

from __future__ import annotations

from dataclasses import dataclass

from nats.aio.client import Client as NATS

from contracts.intake import AcceptedChild, ReportAccepted, ReportScreened
from contracts.referral import Consent, ReferralAccepted, ReferralMade
from shared.audit_events import RecordAccessed
from shared.audit_state import Set, SetAll
from shared.envelope import Actor, Aggregate
from shared.events import DomainEvent, event_type
from shared.eventstore import EventStore
from shared.signing import SigningKey
from shared.streams import ensure_streams

# Test-only casework types, registered whenever this module is imported (in the API tests,
# after the reporting spec was built): the index must take them as it takes any casework
# type a newer casework service writes.


@event_type(
    context="casework",
    aggregate="case",
    en="Test only: a case was opened.",
    fr="Test seulement : un dossier a été ouvert.",
)
class AuditProbeCaseOpened(DomainEvent):
    audit_state = (SetAll(),)

    case_id: str
    child_id: str
    report_id: str
    status: str


@event_type(
    context="casework",
    aggregate="case",
    en="Test only: a case's status changed.",
    fr="Test seulement : le statut d'un dossier a changé.",
)
class AuditProbeStatusChanged(DomainEvent):
    audit_state = (Set("status"),)

    status: str


class FutureCaseEvent(DomainEvent):
    """A casework type this software does not know (never registered)."""

    context = "casework"
    name = "CaseTeleported"
    version = 1
    aggregate = "case"
    description = {"en": "-", "fr": "-"}  # noqa: RUF012 - the ClassVar of DomainEvent
    case_id: str
    where: str


WORKER = Actor(user="awa.dossou", agency="ocpm", role="case_worker")
SCREENER = Actor(user="koffi.screener", agency="ocpm", role="screener")


@dataclass
class Log:
    times: list[str]  # of the case's events, in the order written


async def write_story(nc: NATS) -> Log:
    await ensure_streams(nc.jetstream(), "hq", contexts=("intake", "referral", "casework", "audit"))
    store = EventStore(
        nc,
        key=SigningKey.generate(),
        source="/t/upstream",
        site="hq",
        writable_contexts=("intake", "referral", "casework", "audit"),
    )
    report = Aggregate("intake", "hq", "report", "r-1")
    case = Aggregate("casework", "hq", "case", "c-1")
    other = Aggregate("casework", "hq", "case", "c-2")
    referral = Aggregate("referral", "hq", "referral", "f-1")
    times = []

    async def write(agg: Aggregate, event: DomainEvent, actor: Actor = WORKER) -> None:
        head = await store.load(agg)
        result = await store.append(agg, head[-1].seq if head else 0, [event], actor=actor)
        times.append(result.events[0].time)

    children = [
        AcceptedChild(child_id="child-a", sex="female", age_years=12, age_band="10-14"),
        AcceptedChild(child_id="child-b", sex="male", age_years=9, age_band="5-9"),
    ]
    await write(
        report,
        ReportAccepted(
            report_id="r-1",
            children=children,
            concerns=["physical_abuse"],
            urgency="high",
            commune="bj-cotonou",
            agency="ocpm",
            received_at="2026-03-01T08:00:00Z",
            accepted_at="2026-03-01T09:00:00Z",
        ),
        SCREENER,
    )
    await write(
        case,
        AuditProbeCaseOpened(case_id="c-1", child_id="child-a", report_id="r-1", status="open"),
    )
    await write(
        referral,
        ReferralMade(
            referral_id="f-1",
            case_id="c-1",
            child_id="child-a",
            from_agency="ocpm",
            to_agency="ong-1",
            to_unit="shelter-1",
            service_kind="transit_shelter",
            urgency="emergency",
            reason="needs a safe place",
            consent=Consent(given=True, given_by="guardian"),
            shared_fields=["child_age_band"],
            due_at="2026-03-02T08:00:00Z",
        ),
    )
    await write(referral, ReferralAccepted(referral_id="f-1", case_id="c-1", to_unit="shelter-1"))
    await write(case, AuditProbeStatusChanged(status="closed"))
    await write(case, FutureCaseEvent(case_id="c-1", where="elsewhere"))
    # Not the case's: the sibling's own case, and a later screening of the report.
    await store.append(
        other,
        0,
        [AuditProbeCaseOpened(case_id="c-2", child_id="child-b", report_id="r-2", status="open")],
        actor=WORKER,
    )
    await store.append(
        other,
        (await store.load(other))[-1].seq,
        [AuditProbeStatusChanged(status="x")],
        actor=WORKER,
    )
    await write(
        report,
        ReportScreened(
            report_id="r-1",
            decision="protection_concern",
            urgency="high",
            rationale="bruises",
            deadline="2026-03-02T08:00:00Z",
            screened_at="2026-03-01T09:30:00Z",
            within_deadline=True,
        ),
        SCREENER,
    )
    # Someone in casework read the child's record earlier.
    await store.append(
        Aggregate("audit", "hq", "access", "acc-1"),
        0,
        [
            RecordAccessed(
                user="awa.dossou",
                agency="ocpm",
                role="case_worker",
                service="casework",
                record_type="child",
                record_id="child-a",
                at="2026-03-01T11:00:00Z",
            )
        ],
        actor=WORKER,
    )
    return Log(times)
