"""The referral service's events: its public contract (directory and referrals)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from shared.events import DomainEvent, event_type


@event_type(
    context="referral",
    aggregate="staff",
    en="A staff member of a unit was registered, with their sector and role.",
    fr="Un membre du personnel d'une unité a été enregistré, avec son secteur et son rôle.",
)
class StaffMemberRegistered(DomainEvent):
    staff_id: str = Field(description="The person's user id (the token's subject)")
    agency: str
    unit: str
    sector: str = Field(
        description="security_forces, social_services, justice, deprived_of_liberty"
    )
    role: str
    display_name: str = Field(max_length=200)


@event_type(
    context="referral",
    aggregate="staff",
    en="A staff member was assessed on one competency of a framework.",
    fr="Un membre du personnel a été évalué sur une compétence d'un référentiel.",
)
class CompetencyAssessed(DomainEvent):
    staff_id: str
    competency: str = Field(
        description="<sector>.<competency>, e.g. social_services.interaction_communication"
    )
    level: str = Field(description="A level of the framework, e.g. meets_expectations")
    assessor: str
    assessed_on: str = Field(description="Date of the assessment (YYYY-MM-DD)")


class Consent(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    given: bool
    given_by: str | None = Field(default=None, description="child, guardian, both, court")
    given_at: str | None = None
    reason_not_sought: str | None = Field(default=None, max_length=1000)


@event_type(
    context="referral",
    aggregate="referral",
    en="A case worker referred a case to a unit for a service.",
    fr="Un travailleur social a orienté un dossier vers une unité pour un service.",
)
class ReferralMade(DomainEvent):
    referral_id: str
    case_id: str
    child_id: str
    from_agency: str
    from_unit: str | None = None
    to_agency: str
    to_unit: str
    service_kind: str
    urgency: str
    reason: str = Field(max_length=2000)
    consent: Consent
    shared_fields: list[str] = Field(description="What the receiving unit may see")
    due_at: str = Field(description="When acceptance is due (RFC 3339)")
    sensitive_fields = frozenset({"reason"})


@event_type(
    context="referral",
    aggregate="referral",
    en="The receiving unit accepted the referral.",
    fr="L'unité destinataire a accepté l'orientation.",
)
class ReferralAccepted(DomainEvent):
    referral_id: str
    case_id: str
    to_unit: str
    capacity_override_reason: str | None = None


@event_type(
    context="referral",
    aggregate="referral",
    en="The receiving unit declined the referral.",
    fr="L'unité destinataire a refusé l'orientation.",
)
class ReferralDeclined(DomainEvent):
    referral_id: str
    case_id: str
    reason: str = Field(max_length=2000)
    suggested_unit: str | None = None


@event_type(
    context="referral",
    aggregate="referral",
    en="The service was delivered and the referral completed with an outcome.",
    fr="Le service a été rendu et l'orientation close avec un résultat.",
)
class ReferralCompleted(DomainEvent):
    referral_id: str
    case_id: str
    outcome: str = Field(max_length=2000)
    sensitive_fields = frozenset({"outcome"})


@event_type(
    context="referral",
    aggregate="referral",
    en="The referring worker withdrew the referral.",
    fr="Le travailleur social a retiré l'orientation.",
)
class ReferralWithdrawn(DomainEvent):
    referral_id: str
    case_id: str
    reason: str = Field(max_length=2000)
