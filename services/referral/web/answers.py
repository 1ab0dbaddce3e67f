"""The referral service's answers for the directory, staff and search routes, so the
OpenAPI document says what each holds. (Referrals' answers are in ``schemas.py``; a
registered staff member, an assessment and a training session answer with their event.)"""

from __future__ import annotations

from pydantic import BaseModel, Field


class AgencyOut(BaseModel):
    agency_id: str
    name: str
    type: str
    commune: str | None = None


class AgencyRowOut(AgencyOut):
    last_seq: int = Field(description="The agency's version")


class AgencyPageOut(BaseModel):
    items: list[AgencyRowOut]
    total: int
    page: int
    page_size: int


class CapacityOut(BaseModel):
    total: int
    occupied_outside: int
    reserved: int
    held: int = Field(default=0, description="Places held by hand by a coordinator")
    available: int
    version: int = Field(
        description="The capacity's version (0: never set): send it as If-Match to change it"
    )


class HoldOut(BaseModel):
    hold_id: str
    note: str
    until: str | None = Field(description="YYYY-MM-DD, or none")
    held_at: str
    held_by: str | None


class HoldsOut(BaseModel):
    """The unit's capacity and the places held by hand (its ETag is the capacity's version)."""

    capacity: CapacityOut
    holds: list[HoldOut]


class ExpectedServicesOut(BaseModel):
    expected: int
    offered: int
    missing: list[str]
    kinds: list[str] = Field(
        default_factory=list,
        description="The service kinds expected of the unit, as described (send them back in "
        "expected_services when revising the unit)",
    )


class UnitOut(BaseModel):
    unit_id: str
    agency_id: str
    name: str
    commune: str
    service_kinds: list[str]
    opening_hours: dict[str, list[str]]
    languages: list[str]
    min_age: int
    max_age: int
    sexes: list[str]
    supervisor: str | None
    hub_id: str | None
    capacity: CapacityOut
    expected_services: ExpectedServicesOut
    version: int = Field(description="The unit's version: send it as If-Match to describe it")


class UnitPageOut(BaseModel):
    items: list[UnitOut]
    total: int
    page: int
    page_size: int


class AssessmentRowOut(BaseModel):
    staff_id: str
    competency: str
    level: str
    assessor: str
    assessed_on: str


class StaffRecordOut(BaseModel):
    staff_id: str
    agency_id: str
    unit_id: str
    sector: str
    role: str
    display_name: str
    assessments: list[AssessmentRowOut]
    version: int = Field(description="Send it as If-Match to update or assess the member")


class StaffRowOut(BaseModel):
    staff_id: str
    agency_id: str
    unit_id: str
    sector: str
    role: str
    display_name: str
    assessed: int = Field(description="How many competency assessments the member has")
    version: int = Field(description="Send it as If-Match to update or assess the member")


class StaffPageOut(BaseModel):
    items: list[StaffRowOut]
    total: int
    page: int
    page_size: int


class TrainingRowOut(BaseModel):
    session_id: str
    agency_id: str
    held_on: str
    topic: str
    trainer: str
    participants: list[str]
    sector: str | None


class TrainingPageOut(BaseModel):
    items: list[TrainingRowOut]
    total: int
    page: int
    page_size: int


class MemberOut(BaseModel):
    unit_id: str
    name: str
    service_kinds: list[str]
    available: int | None = Field(description="Free places; null for a unit that counts none")
    takes_children: bool


class AvailabilityOut(BaseModel):
    hub_id: str | None = None
    unit_id: str | None = None
    expected: int
    offered: int
    missing: list[str]
    offered_services: list[str]
    label_en: str
    label_fr: str
    units: list[MemberOut]


class FoundUnitOut(BaseModel):
    unit_id: str
    name: str
    agency_id: str
    commune: str
    available: int
    same_commune: bool
    same_department: bool
    fit: int
    open_now: bool | None


class SearchOut(BaseModel):
    at: str | None
    day: str | None
    items: list[FoundUnitOut]
