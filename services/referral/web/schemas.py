"""Request bodies of the referral routes (every rule a person can break, with the field and a
reason in French and English) and their answers. The body of a new referral is the refer
command's input, in ``app/referring.py``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from services.referral.app.common import Body


class AcceptBody(Body):
    capacity_override_reason: str | None = Field(default=None, max_length=1000)


class DeclineBody(Body):
    reason: str = Field(min_length=1, max_length=2000)
    suggested_unit: str | None = None


class CompleteBody(Body):
    outcome: str = Field(min_length=1, max_length=2000)


class WithdrawBody(Body):
    reason: str = Field(min_length=1, max_length=2000)


# -- answers ---------------------------------------------------------------------------------


class ReferralOut(BaseModel):
    """A referral as its referrer (and an auditor) sees it."""

    referral_id: str
    case_id: str
    child_id: str
    from_agency: str
    from_unit: str | None
    to_agency: str
    to_unit: str
    service_kind: str
    urgency: str
    reason: str
    consent: dict[str, Any]
    shared_fields: list[str]
    details: dict[str, Any]
    status: str
    made_by: str
    made_at: str | None
    due_at: str | None
    answered_at: str | None
    closed_at: str | None
    override_reason: str | None
    decline_reason: str | None
    suggested_unit: str | None
    outcome: str | None
    withdraw_reason: str | None
    overdue: bool
    escalated: bool
    escalated_to: str | None
    case_agency: str | None = Field(description="The agency that owns the case now")
    version: int = Field(description="Send it as If-Match to answer or withdraw the referral")


class SharedReferralOut(BaseModel):
    """What the receiving unit sees: the referral's bookkeeping and exactly the fields the
    referrer shared (absent when not shared)."""

    model_config = ConfigDict(extra="forbid")

    referral_id: str
    status: str
    service_kind: str
    from_agency: str
    to_agency: str
    to_unit: str
    made_at: str | None
    due_at: str | None
    answered_at: str | None
    closed_at: str | None
    overdue: bool
    escalated: bool
    override_reason: str | None
    decline_reason: str | None
    suggested_unit: str | None
    outcome: str | None
    withdraw_reason: str | None
    version: int
    urgency: str | None = None
    reason: str | None = None
    child_age_band: str | None = None
    child_sex: str | None = None
    concerns: list[str] | None = None
    contact: str | None = None


AnyReferralOut = ReferralOut | SharedReferralOut


class ReferralPageOut(BaseModel):
    items: list[AnyReferralOut]
    total: int
    page: int
    page_size: int
