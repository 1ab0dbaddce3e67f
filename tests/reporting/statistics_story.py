"""A generated national data set written to the real log: a directory, staff and training in
REFERRAL, about a hundred reports in INTAKE, the cases they lead to in CASEWORK, referrals,
services and closures; a few hundred events in all.

Every fact is also kept here as plain Python (``Story``), so tests can work out each
indicator's true value on their own, without the reporting code. Streams are written
referral first, then casework, then intake: the projection meets referrals and services of
cases it has not seen opened, and cases of reports it has not seen registered."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from nats.aio.client import Client as NATS

from contracts import casework as cw
from contracts import intake as it
from contracts import referral as rf
from shared.envelope import Actor, Aggregate
from shared.events import DomainEvent
from shared.eventstore import EventStore
from shared.signing import SigningKey
from shared.streams import ensure_streams

TZ = ZoneInfo("Africa/Porto-Novo")
YEAR = 2026
ACTOR = Actor(user="generator", agency="ocpm", role="case_worker")
AGENCIES = {"ocpm": "OCPM Cotonou", "cps-parakou": "CPS Parakou", "ong-enfance": "ONG Enfance"}
COMMUNES = [
    "bj-littoral-cotonou",
    "bj-borgou-parakou",
    "bj-borgou-nikki",
    "bj-zou-za-kpota",
    "bj-zou-bohicon",
    "unknown",
]
CHANNELS = ["hotline_116", "police", "walk_in", "school"]
CONCERNS = [
    "trafficking_sexual",
    "trafficking_labour_other",
    "physical_violence",
    "neglect",
    "child_labour",
]
KINDS = ["medical", "psychological", "legal_aid", "transit_shelter", "education"]
SEXES = ["female", "female", "male", "male", "unknown", "Fille non précisé"]
UNITS = {
    # unit: (agency, commune, offered kinds, expected kinds, hub)
    "hub-parakou": (
        "cps-parakou",
        "bj-borgou-parakou",
        ["social_support", "legal_aid"],
        ["social_support", "legal_aid", "medical", "psychological", "transit_shelter", "education"],
        None,
    ),
    "u-medical": (
        "ong-enfance",
        "bj-borgou-parakou",
        ["medical", "psychological"],
        [],
        "hub-parakou",
    ),
    "u-shelter": ("ong-enfance", "bj-borgou-nikki", ["transit_shelter"], [], "hub-parakou"),
    "ocpm-transit": (
        "ocpm",
        "bj-littoral-cotonou",
        ["transit_shelter", "social_support"],
        ["transit_shelter", "social_support", "legal_aid"],
        None,
    ),
}
WORKERS = ["w1", "w2", "w3", "w4", "w5", "w6"]
CLOSURES = ["goals_met", "transferred", "moved", "lost_contact"]
STAFF = {  # staff: (agency, unit, sector)
    "s1": ("ocpm", "ocpm-transit", "social_services"),
    "s2": ("ocpm", "ocpm-transit", "social_services"),
    "s3": ("cps-parakou", "hub-parakou", "social_services"),
    "s4": ("cps-parakou", "hub-parakou", "justice"),
    "s5": ("ong-enfance", "u-medical", "social_services"),
    "s6": ("ong-enfance", "u-shelter", "security_forces"),
}


@dataclass
class Child:
    child_id: str
    sex: str
    raw_sex: str
    age: dict[str, Any]  # what reports say of the age: age_years, date_of_birth or a range
    band: str  # at the child's first report: what casework records


@dataclass
class Report:
    report_id: str
    agency: str
    channel: str
    received_at: datetime
    commune: str
    urgency: str
    concerns: list[str]
    children: list[Child]
    bands: dict[str, str] = field(default_factory=dict)  # child -> age band at receipt
    screened: bool | None = None  # None: not screened; else within the deadline
    overdue: bool = False


@dataclass
class Case:
    case_id: str
    child_id: str
    sex: str
    band: str
    agency: str
    commune: str
    concerns: list[str]
    urgency: str
    received_at: datetime
    opened_at: datetime = datetime(1970, 1, 1, tzinfo=UTC)
    worker: str | None = None
    qualified: bool | None = None
    stage: str = "registration"
    risk: str = "low"
    closed: str | None = None  # reason
    current_agency: str | None = None  # after a transfer
    first_assessment_at: datetime | None = None
    plan_at: datetime | None = None


@dataclass
class Referral:
    referral_id: str
    case_id: str
    child_id: str
    from_agency: str
    to_unit: str
    to_agency: str
    service_kind: str
    urgency: str
    made_at: datetime = datetime(1970, 1, 1, tzinfo=UTC)
    accepted_at: datetime | None = None
    declined: bool = False
    completed_at: datetime | None = None
    overdue: bool = False


@dataclass
class Service:
    key: str
    child_id: str
    case_id: str
    kind: str
    agency: str
    day: date


@dataclass
class Story:
    reports: list[Report] = field(default_factory=list)
    cases: list[Case] = field(default_factory=list)
    referrals: list[Referral] = field(default_factory=list)
    services: list[Service] = field(default_factory=list)
    duplicates: list[tuple[str, str]] = field(default_factory=list)
    assessments: list[tuple[str, str, str, date]] = field(default_factory=list)
    trainings: list[tuple[str, str, date, list[str]]] = field(default_factory=list)
    events: int = 0
    rng: random.Random = field(default_factory=random.Random)


def band_of(age: int | None) -> str:
    if age is None or age > 17:
        return "unknown"
    return "0-4" if age <= 4 else "5-9" if age <= 9 else "10-14" if age <= 14 else "15-17"


def band_at(age: dict[str, Any], received: datetime) -> str:
    if "age_years" in age:
        return band_of(age["age_years"])
    if "date_of_birth" in age:
        born, on = date.fromisoformat(age["date_of_birth"]), received.date()
        return band_of(on.year - born.year - ((on.month, on.day) < (born.month, born.day)))
    if "age_min" in age:
        low, high = band_of(age["age_min"]), band_of(age["age_max"])
        return low if low == high else "unknown"
    return "unknown"


def sex_of(value: str) -> str:
    return value if value in ("female", "male", "unknown") else "other"


class Writer:
    def __init__(self, store: EventStore, story: Story) -> None:
        self.store = store
        self.story = story
        self.heads: dict[str, int] = {}

    async def write(self, context: str, kind: str, agg_id: str, event: DomainEvent) -> datetime:
        aggregate = Aggregate(context, "hq", kind, agg_id)
        key = aggregate.subject_filter
        result = await self.store.append(aggregate, self.heads.get(key, 0), [event], actor=ACTOR)
        self.heads[key] = result.events[-1].seq
        self.story.events += 1
        return datetime.fromisoformat(result.events[-1].time.replace("Z", "+00:00"))


def generate(seed: int = 7) -> tuple[Story, list[tuple[str, str, str, DomainEvent]]]:
    """The facts, and the events of INTAKE (reports, screenings, corrections); casework and
    referral events are written by :func:`write_story`, which needs their real times."""
    rng = random.Random(seed)
    story = Story()
    intake: list[tuple[str, str, str, DomainEvent]] = []
    children_seen: list[Child] = []
    for n in range(100):
        day = date(YEAR, 1, 1) + timedelta(days=rng.randrange(181))
        received = datetime(day.year, day.month, day.day, 10, 0, tzinfo=UTC)
        if n == 0:  # 23:30 UTC on 31 January is 1 February in Benin
            received = datetime(YEAR, 1, 31, 23, 30, tzinfo=UTC)
        reported = []
        details = []
        bands: dict[str, str] = {}
        for _ in range(1 if rng.random() < 0.8 else 2):
            if children_seen and rng.random() < 0.1:
                child = rng.choice(children_seen)
                if child in reported:
                    continue
                reported.append(child)
                bands[child.child_id] = band_at(child.age, received)
                details.append(
                    it.ReportedChild(child_id=child.child_id, sex=child.raw_sex, **child.age)
                )
                continue
            raw_sex = rng.choice(SEXES)
            how = rng.randrange(4)
            age: dict[str, Any] = {}
            if how == 0:
                age["age_years"] = rng.randrange(18)
            elif how == 1:
                born = date(YEAR - 1 - rng.randrange(16), rng.randrange(1, 13), 1)
                age["date_of_birth"] = born.isoformat()
            elif how == 2:
                low = rng.choice([5, 10, 12])
                age["age_min"], age["age_max"] = low, low + 2
            band = band_at(age, received)
            child = Child(f"c-{len(children_seen) + 1}", sex_of(raw_sex), raw_sex, age, band)
            children_seen.append(child)
            reported.append(child)
            bands[child.child_id] = band
            details.append(it.ReportedChild(child_id=child.child_id, sex=raw_sex, **age))
        report = Report(
            report_id=f"r-{n + 1}",
            agency=rng.choice(list(AGENCIES)),
            channel=rng.choice(CHANNELS),
            received_at=received,
            commune=rng.choice(COMMUNES),
            urgency=rng.choice(["emergency", "high", "normal"]),
            concerns=sorted(set(rng.sample(CONCERNS, rng.choice([1, 1, 2])))),
            children=reported,
            bands=bands,
        )
        story.reports.append(report)
        intake.append(
            (
                "report",
                report.report_id,
                "ReportRegistered",
                it.ReportRegistered(
                    report_id=report.report_id,
                    agency=report.agency,
                    channel=report.channel,
                    received_at=received.isoformat().replace("+00:00", "Z"),
                    commune=report.commune,
                    concerns=report.concerns,
                    children=details,
                    urgency=report.urgency,
                    narrative="Un récit qui ne doit jamais sortir de l'accueil.",
                ),
            )
        )
        fate = rng.random()
        deadline = (received + timedelta(hours=24)).isoformat().replace("+00:00", "Z")
        if fate < 0.1:  # flagged overdue, then screened late
            report.overdue = True
            intake.append(
                (
                    "report",
                    report.report_id,
                    "ScreeningOverdue",
                    it.ScreeningOverdue(
                        report_id=report.report_id, urgency=report.urgency, deadline=deadline
                    ),
                )
            )
        if fate < 0.05:
            continue  # overdue, never screened
        if fate < 0.9:
            within = rng.random() < 0.7 and not report.overdue
            report.screened = within
            for again in range(2 if rng.random() < 0.1 else 1):
                intake.append(
                    (
                        "report",
                        report.report_id,
                        "ReportScreened",
                        it.ReportScreened(
                            report_id=report.report_id,
                            decision="protection_concern",
                            urgency=report.urgency,
                            rationale="…",
                            deadline=deadline,
                            screened_at=deadline,
                            # A second screening says the opposite: only the first counts.
                            within_deadline=within if again == 0 else not within,
                        ),
                    )
                )
    # One child's sex is corrected; two records are confirmed to be the same child.
    corrected = next(c for c in children_seen if c.sex == "unknown")
    corrected.sex = "female"
    intake.append(
        (
            "child",
            corrected.child_id,
            "ChildDetailsCorrected",
            it.ChildDetailsCorrected(
                child_id=corrected.child_id,
                fields=["sex"],
                changes={"sex": "female"},
                reason="Vérifié auprès de la famille",
            ),
        )
    )
    a, b = children_seen[3].child_id, children_seen[4].child_id
    story.duplicates.append((a, b))
    intake.append(
        (
            "child",
            b,
            "DuplicateConfirmed",
            it.DuplicateConfirmed(child_id=b, candidate_id=a),
        )
    )
    # Cases for the screened reports' first child (a child already with a case: attached).
    with_case: dict[str, Case] = {}
    for report in story.reports:
        if report.screened is None:
            continue
        child = report.children[0]
        if child.child_id in with_case:
            case = with_case[child.child_id]
            case.concerns = sorted({*case.concerns, *report.concerns})
            continue
        case = Case(
            case_id=f"k-{len(story.cases) + 1}",
            child_id=child.child_id,
            sex=child.sex,
            band=child.band,
            agency=report.agency,
            commune=report.commune,
            concerns=list(report.concerns),
            urgency=report.urgency,
            received_at=report.received_at,
        )
        case.stage, case.risk = "registration", "low"
        with_case[child.child_id] = case
        story.cases.append(case)
    story.rng = rng
    return story, intake


async def write_story(nc: NATS, seed: int = 7) -> Story:
    await ensure_streams(nc.jetstream(), "hq", contexts=("intake", "referral", "casework", "audit"))
    store = EventStore(
        nc,
        key=SigningKey.generate(),
        source="/t/generator",
        site="hq",
        writable_contexts=("intake", "referral", "casework"),
    )
    story, intake = generate(seed)
    rng = story.rng
    w = Writer(store, story)
    case_of_report: dict[str, Case] = {}

    # -- REFERRAL: directory, staff, training, referrals -------------------------------------
    for agency, name in AGENCIES.items():
        await w.write(
            "referral",
            "agency",
            agency,
            rf.AgencyRegistered(agency_id=agency, agency_name=name, type="government"),
        )
    for unit, (agency, commune, kinds, expected, hub) in UNITS.items():
        await w.write(
            "referral",
            "unit",
            unit,
            rf.UnitDescribed(
                unit_id=unit,
                agency_id=agency,
                unit_name=unit.replace("-", " ").title(),
                commune=commune,
                service_kinds=kinds,
                opening_hours={},
                languages=["fr"],
                min_age=0,
                max_age=17,
                sexes=[],
                expected_services=expected,
                hub_id=hub,
            ),
        )
    for staff_id, (agency, unit, sector) in STAFF.items():
        await w.write(
            "referral",
            "staff",
            staff_id,
            rf.StaffMemberRegistered(
                staff_id=staff_id,
                agency=agency,
                unit=unit,
                sector=sector,
                role="case_worker",
                display_name=f"Agent {staff_id}",
            ),
        )
    competencies = ["social_services.interaction_communication", "social_services.rights"]
    for staff_id in STAFF:
        for competency in competencies:
            if rng.random() < 0.7:
                level = rng.choice(["below_expectations", "meets_expectations", "satisfactory"])
                on = date(YEAR, rng.randrange(1, 7), 15)
                story.assessments.append((staff_id, competency, level, on))
                await w.write(
                    "referral",
                    "staff",
                    staff_id,
                    rf.CompetencyAssessed(
                        staff_id=staff_id,
                        competency=competency,
                        level=level,
                        assessor="formateur",
                        assessed_on=on.isoformat(),
                    ),
                )
    for n, (agency, month, people) in enumerate(
        [("ocpm", 2, ["s1", "s2"]), ("cps-parakou", 3, ["s3", "s4", "s1"]), ("ocpm", 3, ["s2"])]
    ):
        held = date(YEAR, month, 10)
        story.trainings.append((f"t-{n}", agency, held, people))
        await w.write(
            "referral",
            "training",
            f"t-{n}",
            rf.TrainingSessionHeld(
                session_id=f"t-{n}",
                agency_id=agency,
                held_on=held.isoformat(),
                topic="Entretien avec l'enfant",
                trainer="IBCR",
                participants=people,
                sector="social_services",
            ),
        )
    for case in story.cases:
        if rng.random() < 0.45:
            unit = rng.choice(["hub-parakou", "u-medical", "u-shelter", "ocpm-transit"])
            referral = Referral(
                referral_id=f"f-{len(story.referrals) + 1}",
                case_id=case.case_id,
                child_id=case.child_id,
                from_agency=case.agency,
                to_unit=unit,
                to_agency=UNITS[unit][0],
                service_kind=rng.choice(KINDS),
                urgency=case.urgency,
            )
            story.referrals.append(referral)
            referral.made_at = await w.write(
                "referral",
                "referral",
                referral.referral_id,
                rf.ReferralMade(
                    referral_id=referral.referral_id,
                    case_id=case.case_id,
                    child_id=case.child_id,
                    from_agency=case.agency,
                    to_agency=referral.to_agency,
                    to_unit=unit,
                    service_kind=referral.service_kind,
                    urgency=referral.urgency,
                    reason="Besoin d'un suivi",
                    consent=rf.Consent(given=True, given_by="guardian"),
                    shared_fields=["child_age_band"],
                    due_at="2026-07-01T00:00:00Z",
                ),
            )
            fate = rng.random()
            if fate < 0.15:
                referral.overdue = True
                await w.write(
                    "referral",
                    "referral",
                    referral.referral_id,
                    rf.ReferralOverdue(
                        referral_id=referral.referral_id,
                        case_id=case.case_id,
                        to_unit=unit,
                        due_at="2026-07-01T00:00:00Z",
                    ),
                )
            if fate < 0.65:
                referral.accepted_at = await w.write(
                    "referral",
                    "referral",
                    referral.referral_id,
                    rf.ReferralAccepted(
                        referral_id=referral.referral_id, case_id=case.case_id, to_unit=unit
                    ),
                )
                if rng.random() < 0.6:
                    referral.completed_at = await w.write(
                        "referral",
                        "referral",
                        referral.referral_id,
                        rf.ReferralCompleted(
                            referral_id=referral.referral_id,
                            case_id=case.case_id,
                            outcome="Service rendu",
                        ),
                    )
                    story.services.append(
                        Service(
                            f"referral:{referral.referral_id}",
                            case.child_id,
                            case.case_id,
                            referral.service_kind,
                            referral.to_agency,
                            referral.completed_at.astimezone(TZ).date(),
                        )
                    )
            elif fate < 0.85:
                referral.declined = True
                await w.write(
                    "referral",
                    "referral",
                    referral.referral_id,
                    rf.ReferralDeclined(
                        referral_id=referral.referral_id,
                        case_id=case.case_id,
                        reason="Pas de place",
                    ),
                )

    # -- CASEWORK -------------------------------------------------------------------------
    for report in story.reports:
        for case in story.cases:
            if case.child_id == report.children[0].child_id and report.screened is not None:
                case_of_report.setdefault(report.report_id, case)
    opened_for: set[str] = set()
    for report in story.reports:
        case = case_of_report.get(report.report_id)
        if case is None:
            continue
        if case.case_id in opened_for:
            await w.write(
                "casework",
                "case",
                case.case_id,
                cw.ReportAttachedToCase(
                    report_id=report.report_id,
                    child_id=case.child_id,
                    concerns=report.concerns,
                    urgency=report.urgency,
                    received_at=report.received_at.isoformat(),
                ),
            )
            continue
        opened_for.add(case.case_id)
        case.opened_at = await w.write(
            "casework",
            "case",
            case.case_id,
            cw.CaseOpened(
                case_id=case.case_id,
                child_id=case.child_id,
                sex=case.sex,
                age_band=case.band,
                report_id=report.report_id,
                agency=case.agency,
                commune=case.commune,
                concerns=report.concerns,
                urgency=case.urgency,
                initial_risk="medium",
                received_at=case.received_at.isoformat(),
                registration_due_at="2026-07-01T00:00:00Z",
            ),
        )
        case.risk = "medium"
    for case in story.cases:
        worker = rng.choice(WORKERS)
        qualified = rng.random() < 0.7
        if rng.random() < 0.85:
            case.worker, case.qualified = worker, qualified
            await w.write(
                "casework",
                "case",
                case.case_id,
                cw.CaseAssigned(
                    worker_id=worker,
                    supervisor_id="sup-1",
                    required_competencies=["social_services.interaction_communication"],
                    missing_competencies=[] if qualified else ["x"],
                ),
            )
        progress = rng.randrange(4)
        if progress >= 1:
            await w.write(
                "casework",
                "case",
                case.case_id,
                cw.StageChanged(from_stage="registration", to_stage="initial_assessment"),
            )
            case.stage = "initial_assessment"
        if progress >= 2:
            case.risk = rng.choice(["low", "medium", "high"])
            case.first_assessment_at = await w.write(
                "casework",
                "case",
                case.case_id,
                cw.AssessmentRecorded(
                    assessment_id=f"a-{case.case_id}",
                    kind="initial",
                    needs=["safety"],
                    risk_level=case.risk,
                    views_not_heard_reason="age",
                ),
            )
        if progress >= 3:
            case.plan_at = await w.write(
                "casework",
                "case",
                case.case_id,
                cw.PlanGoalAdded(goal_id=f"g-{case.case_id}", text="Retour en famille"),
            )
            await w.write(
                "casework",
                "case",
                case.case_id,
                cw.StageChanged(from_stage="initial_assessment", to_stage="case_plan"),
            )
            case.stage = "case_plan"
        if rng.random() < 0.4:
            on = date(YEAR, rng.randrange(1, 7), rng.randrange(1, 28))
            kind = rng.choice(KINDS)
            agency = rng.choice(list(AGENCIES))
            done = [r for r in story.referrals if r.case_id == case.case_id and r.completed_at]
            # A service carrying out a completed referral is the same service: counted once.
            referral_id = done[0].referral_id if done and rng.random() < 0.5 else None
            key = f"referral:{referral_id}" if referral_id else f"service:s-{case.case_id}"
            await w.write(
                "casework",
                "case",
                case.case_id,
                cw.ServiceDelivered(
                    service_id=f"s-{case.case_id}",
                    child_id=case.child_id,
                    service_kind=kind,
                    agency=agency,
                    delivered_on=on.isoformat(),
                    referral_id=referral_id,
                ),
            )
            # The case's record of a service wins over the referral's completion, whichever
            # the projection meets first.
            story.services = [x for x in story.services if x.key != key]
            story.services.append(Service(key, case.child_id, case.case_id, kind, agency, on))
        if rng.random() < 0.2:
            case.closed = rng.choice(CLOSURES)
            await w.write(
                "casework",
                "case",
                case.case_id,
                cw.CaseClosed(reason=case.closed, requested_by="w1", approved_by="sup-1"),
            )
            case.stage = "closure"
    # One case handed over to another agency: its worker is cleared until the new one assigns.
    moved = next(c for c in story.cases if c.closed is None and c.worker)
    await w.write(
        "casework",
        "case",
        moved.case_id,
        cw.TransferAccepted(
            transfer_id="tr-1",
            from_agency=moved.agency,
            to_agency="ong-enfance",
            accepted_by="boss",
        ),
    )
    moved.current_agency, moved.worker, moved.qualified = "ong-enfance", None, None

    # -- INTAKE ---------------------------------------------------------------------------
    for kind, agg_id, _, event in intake:
        await w.write("intake", kind, agg_id, event)
    return story
