"""Request bodies of the referral routes: every rule a person can break, with the field and a
reason in French and English."""

from __future__ import annotations

from pydantic import Field

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
