"""The statistics story's facts as plain Python: the directory, staff, code lists, and the
reports, cases, referrals and services (``Story``) the tests work each indicator out from."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from shared.envelope import Actor

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
