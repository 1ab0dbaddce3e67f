"""The statistics story written to the real log: each append's real time goes back into the
story, REFERRAL first (directory, staff, training, referrals), then CASEWORK."""

from __future__ import annotations

from datetime import date, datetime

from contracts import casework as cw
from contracts import referral as rf
from shared.envelope import Aggregate
from shared.events import DomainEvent
from shared.eventstore import EventStore
from tests.reporting.story_facts import (
    ACTOR,
    AGENCIES,
    CLOSURES,
    KINDS,
    STAFF,
    TZ,
    UNITS,
    WORKERS,
    YEAR,
    Case,
    Referral,
    Service,
    Story,
)


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


async def write_referral(w: Writer, story: Story) -> None:
    """The directory, staff, their training and assessments, and the cases' referrals."""
    rng = story.rng
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


async def write_casework(w: Writer, story: Story) -> None:
    """The cases: opened (or a report attached), assigned, assessed, planned, served, closed;
    one handed over to another agency."""
    rng = story.rng
    case_of_report: dict[str, Case] = {}
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
