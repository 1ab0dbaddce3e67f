"""The statistics story generated from a seed: its facts, and the INTAKE events that record
them (casework and referral events are written with their real times by
:mod:`tests.reporting.story_log`)."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

from contracts import intake as it
from shared.events import DomainEvent
from tests.reporting.story_facts import (
    AGENCIES,
    CHANNELS,
    COMMUNES,
    CONCERNS,
    SEXES,
    YEAR,
    Case,
    Child,
    Report,
    Story,
    band_at,
    sex_of,
)


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
