"""The referral service's events: its public contract (directory and referrals)."""

from __future__ import annotations

from typing import Literal, get_args

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


# The fields a referrer may choose to share with the receiving unit (data minimisation): the
# receiving unit sees these and nothing else of the case.
Shareable = Literal["child_age_band", "child_sex", "concerns", "urgency", "reason", "contact"]
SHAREABLE: tuple[str, ...] = get_args(Shareable)


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
    # Added without a new version (absent in older events, read as None): the case plan
    # action the referral carries out, so casework shows it on that action.
    action_id: str | None = Field(
        default=None, description="The case plan action this referral carries out, if any"
    )
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


# -- directory -------------------------------------------------------------------------------


@event_type(
    context="referral",
    aggregate="agency",
    en="An agency was added to the service directory.",
    fr="Une structure a été ajoutée à l'annuaire des services.",
)
class AgencyRegistered(DomainEvent):
    agency_id: str
    agency_name: str = Field(max_length=200)
    type: str = Field(
        description="government, police, gendarmerie, justice, health, ngo, international"
    )
    commune: str | None = None


@event_type(
    context="referral",
    aggregate="unit",
    en="A service unit's directory entry was created or replaced.",
    fr="La fiche d'une unité de service a été créée ou remplacée dans l'annuaire.",
)
class UnitDescribed(DomainEvent):
    unit_id: str
    agency_id: str
    unit_name: str = Field(max_length=200)
    commune: str = Field(description="Location code of the unit's commune")
    service_kinds: list[str]
    opening_hours: dict[str, list[str]] = Field(
        description="Weekday (mon..sun) -> intervals HH:MM-HH:MM; a missing day is closed"
    )
    languages: list[str]
    min_age: int
    max_age: int
    sexes: list[str] = Field(description="Sexes accepted; empty means every sex")
    expected_services: list[str] = Field(
        default_factory=list, description="Service kinds this unit or hub is expected to offer"
    )
    supervisor: str | None = Field(default=None, description="Who overdue referrals go to")
    hub_id: str | None = Field(
        default=None,
        description="The unit (a regional hub) whose expected services this unit counts towards",
    )


@event_type(
    context="referral",
    aggregate="capacity",
    en="A unit set its capacity and the places taken outside Relais referrals.",
    fr="Une unité a fixé sa capacité et les places occupées hors orientations Relais.",
)
class CapacitySet(DomainEvent):
    unit_id: str
    total: int = Field(ge=0)
    occupied_outside: int = Field(default=0, ge=0)


@event_type(
    context="referral",
    aggregate="capacity",
    en="A place of a unit was reserved for an accepted referral.",
    fr="Une place d'une unité a été réservée pour une orientation acceptée.",
)
class PlaceReserved(DomainEvent):
    unit_id: str
    referral_id: str
    override_reason: str | None = Field(default=None, max_length=1000)


@event_type(
    context="referral",
    aggregate="capacity",
    en="A place reserved for a referral was released.",
    fr="Une place réservée pour une orientation a été libérée.",
)
class PlaceReleased(DomainEvent):
    unit_id: str
    referral_id: str
    because: str = Field(description="completed, withdrawn or not_accepted")


@event_type(
    context="referral",
    aggregate="capacity",
    en="A coordinator held a place of the unit by hand (a child placed outside Relais, say), "
    "with a note and an optional end date.",
    fr="Un coordonnateur a réservé à la main une place de l'unité (un enfant placé hors de "
    "Relais, par exemple), avec une note et une date de fin facultative.",
)
class PlaceHeld(DomainEvent):
    unit_id: str
    hold_id: str = Field(description="The hand reservation's id (derived from the command's key)")
    note: str = Field(min_length=1, max_length=500, description="Why the place is held")
    until: str | None = Field(default=None, description="YYYY-MM-DD: when the hold should end")

    # A coordinator's note may describe the child it holds the place for.
    sensitive_fields = frozenset({"note"})


@event_type(
    context="referral",
    aggregate="capacity",
    en="A coordinator released a place held by hand.",
    fr="Un coordonnateur a libéré une place réservée à la main.",
)
class PlaceFreed(DomainEvent):
    unit_id: str
    hold_id: str


@event_type(
    context="referral",
    aggregate="training",
    en="A training session was held.",
    fr="Une session de formation a eu lieu.",
)
class TrainingSessionHeld(DomainEvent):
    session_id: str
    agency_id: str
    held_on: str = Field(description="YYYY-MM-DD")
    topic: str = Field(max_length=300)
    trainer: str = Field(max_length=200)
    participants: list[str] = Field(description="Staff ids")
    sector: str | None = None


# -- referrals -------------------------------------------------------------------------------


@event_type(
    context="referral",
    aggregate="referral",
    en="The values of the fields the referrer chose to share with the receiving unit.",
    fr="Les valeurs des champs que le référent a choisi de partager avec l'unité destinataire.",
)
class ReferralDetailsShared(DomainEvent):
    referral_id: str
    child_age_band: str | None = None
    child_sex: str | None = None
    concerns: list[str] | None = None
    contact: str | None = Field(default=None, max_length=500)
    sensitive_fields = frozenset({"concerns", "contact"})


@event_type(
    context="referral",
    aggregate="referral",
    en="The referral was not accepted or declined by its due time.",
    fr="L'orientation n'a été ni acceptée ni refusée dans le délai.",
)
class ReferralOverdue(DomainEvent):
    referral_id: str
    case_id: str
    to_unit: str
    due_at: str


@event_type(
    context="referral",
    aggregate="referral",
    en="An overdue referral was escalated to the receiving unit's supervisor.",
    fr="Une orientation en retard a été signalée au superviseur de l'unité destinataire.",
)
class ReferralEscalated(DomainEvent):
    referral_id: str
    case_id: str
    to_unit: str
    escalated_to: str | None = Field(description="The unit's supervisor, if the unit names one")
    overdue_since: str


@event_type(
    context="referral",
    aggregate="referral",
    en="Referral could not make a referral casework requested for a plan action (unknown unit, "
    "service not offered, consent missing...): the reason, in French and English.",
    fr="L'orientation n'a pas pu émettre une orientation demandée par le suivi pour une action "
    "du plan (unité inconnue, service non offert, consentement absent...) : le motif, en "
    "français et en anglais.",
)
class ReferralRequestRefused(DomainEvent):
    referral_id: str
    case_id: str
    action_id: str
    code: str = Field(description="Machine-readable reason, e.g. unknown_unit")
    message_en: str
    message_fr: str
