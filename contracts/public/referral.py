"""Referral's events as integrators see them: the directory without names (agencies and units
by pseudonym, kind, place, services and capacity), training sessions counted, and each
referral's path (made, accepted, declined, completed, withdrawn, overdue) without reasons,
outcomes or the people involved. Staff members, their competency assessments, the details
shared with a receiving unit and casework's refused requests are not published (decision
0021)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from contracts import referral as ev
from contracts.public.base import (
    AgencyType,
    Code,
    Commune,
    Department,
    Pseudonym,
    Publication,
    PublicEvent,
    ServiceKind,
    Sex,
    Urgency,
    fixed,
    public_event,
)

ConsentGivenBy = Annotated[
    str, Code(fixed("child", "guardian", "both", "court"), "other", "Who consented")
]
SharedField = Annotated[
    str, Code(lambda: ev.SHAREABLE, "other", "A field shared with the receiving unit")
]
ReleaseCause = Annotated[
    str, Code(fixed("completed", "withdrawn", "not_accepted"), "other", "Why a place was released")
]
Sector = Annotated[
    str,
    Code(
        fixed("security_forces", "social_services", "justice", "deprived_of_liberty"),
        "other",
        "Sector of the staff trained",
    ),
]


@public_event(
    ev.ReferralMade,
    en="A case worker referred a case to a unit for a service (consent recorded; the reason "
    "is not published).",
    fr="Un travailleur social a orienté un dossier vers une unité pour un service "
    "(consentement enregistré ; le motif n'est pas publié).",
)
class ReferralMade(PublicEvent):
    referral: Pseudonym
    case: Pseudonym
    child: Pseudonym
    from_agency: Pseudonym
    from_unit: Pseudonym | None
    to_agency: Pseudonym
    to_unit: Pseudonym
    service_kind: ServiceKind
    urgency: Urgency
    consent_given: bool
    consent_given_by: ConsentGivenBy | None
    shared_fields: list[SharedField]
    due_on: date | None

    @classmethod
    def of(cls, e: ev.ReferralMade, c: Publication) -> ReferralMade:
        return cls(
            referral=c.p("referral", e.referral_id),
            case=c.p("case", e.case_id),
            child=c.p("child", e.child_id),
            from_agency=c.p("agency", e.from_agency),
            from_unit=c.maybe("unit", e.from_unit),
            to_agency=c.p("agency", e.to_agency),
            to_unit=c.p("unit", e.to_unit),
            service_kind=e.service_kind,
            urgency=e.urgency,
            consent_given=e.consent.given,
            consent_given_by=e.consent.given_by,
            shared_fields=e.shared_fields,
            due_on=c.day(e.due_at),
        )


@public_event(ev.ReferralAccepted)
class ReferralAccepted(PublicEvent):
    referral: Pseudonym
    case: Pseudonym
    to_unit: Pseudonym
    over_capacity: bool

    @classmethod
    def of(cls, e: ev.ReferralAccepted, c: Publication) -> ReferralAccepted:
        return cls(
            referral=c.p("referral", e.referral_id),
            case=c.p("case", e.case_id),
            to_unit=c.p("unit", e.to_unit),
            over_capacity=e.capacity_override_reason is not None,
        )


@public_event(
    ev.ReferralDeclined,
    en="The receiving unit declined the referral (its reason is not published).",
    fr="L'unité destinataire a refusé l'orientation (son motif n'est pas publié).",
)
class ReferralDeclined(PublicEvent):
    referral: Pseudonym
    case: Pseudonym
    suggested_unit: Pseudonym | None

    @classmethod
    def of(cls, e: ev.ReferralDeclined, c: Publication) -> ReferralDeclined:
        return cls(
            referral=c.p("referral", e.referral_id),
            case=c.p("case", e.case_id),
            suggested_unit=c.maybe("unit", e.suggested_unit),
        )


@public_event(
    ev.ReferralCompleted,
    en="The service was delivered and the referral completed (the outcome's text is not "
    "published).",
    fr="Le service a été rendu et l'orientation close (le texte du résultat n'est pas publié).",
)
class ReferralCompleted(PublicEvent):
    referral: Pseudonym
    case: Pseudonym

    @classmethod
    def of(cls, e: ev.ReferralCompleted, c: Publication) -> ReferralCompleted:
        return cls(referral=c.p("referral", e.referral_id), case=c.p("case", e.case_id))


@public_event(ev.ReferralWithdrawn)
class ReferralWithdrawn(PublicEvent):
    referral: Pseudonym
    case: Pseudonym

    @classmethod
    def of(cls, e: ev.ReferralWithdrawn, c: Publication) -> ReferralWithdrawn:
        return cls(referral=c.p("referral", e.referral_id), case=c.p("case", e.case_id))


@public_event(ev.ReferralOverdue)
class ReferralOverdue(PublicEvent):
    referral: Pseudonym
    case: Pseudonym
    to_unit: Pseudonym
    due_on: date | None

    @classmethod
    def of(cls, e: ev.ReferralOverdue, c: Publication) -> ReferralOverdue:
        return cls(
            referral=c.p("referral", e.referral_id),
            case=c.p("case", e.case_id),
            to_unit=c.p("unit", e.to_unit),
            due_on=c.day(e.due_at),
        )


@public_event(
    ev.ReferralEscalated,
    en="An overdue referral was escalated to the receiving unit's supervisor.",
    fr="Une orientation en retard a été signalée au superviseur de l'unité destinataire.",
)
class ReferralEscalated(PublicEvent):
    referral: Pseudonym
    case: Pseudonym
    to_unit: Pseudonym
    overdue_since: date | None

    @classmethod
    def of(cls, e: ev.ReferralEscalated, c: Publication) -> ReferralEscalated:
        return cls(
            referral=c.p("referral", e.referral_id),
            case=c.p("case", e.case_id),
            to_unit=c.p("unit", e.to_unit),
            overdue_since=c.day(e.overdue_since),
        )


# -- directory -------------------------------------------------------------------------------


@public_event(
    ev.AgencyRegistered,
    en="An agency was added to the service directory: its kind and department.",
    fr="Une structure a été ajoutée à l'annuaire : sa nature et son département.",
)
class AgencyRegistered(PublicEvent):
    agency: Pseudonym
    type: AgencyType
    department: Department

    @classmethod
    def of(cls, e: ev.AgencyRegistered, c: Publication) -> AgencyRegistered:
        return cls(
            agency=c.p("agency", e.agency_id), type=e.type, department=c.department(e.commune)
        )


@public_event(
    ev.UnitDescribed,
    en="A service unit's directory entry was created or replaced: where it is, what it offers "
    "and to whom.",
    fr="La fiche d'une unité de service a été créée ou remplacée : où elle est, ce qu'elle "
    "offre et à qui.",
)
class UnitDescribed(PublicEvent):
    unit: Pseudonym
    agency: Pseudonym
    department: Department
    commune: Commune
    service_kinds: list[ServiceKind]
    min_age: int
    max_age: int
    sexes: list[Sex]
    expected_services: list[ServiceKind]
    hub: Pseudonym | None

    @classmethod
    def of(cls, e: ev.UnitDescribed, c: Publication) -> UnitDescribed:
        return cls(
            unit=c.p("unit", e.unit_id),
            agency=c.p("agency", e.agency_id),
            department=c.department(e.commune),
            commune=e.commune,
            service_kinds=e.service_kinds,
            min_age=e.min_age,
            max_age=e.max_age,
            sexes=e.sexes,
            expected_services=e.expected_services,
            hub=c.maybe("unit", e.hub_id),
        )


@public_event(ev.CapacitySet)
class CapacitySet(PublicEvent):
    unit: Pseudonym
    total: int
    occupied_outside: int

    @classmethod
    def of(cls, e: ev.CapacitySet, c: Publication) -> CapacitySet:
        return cls(unit=c.p("unit", e.unit_id), total=e.total, occupied_outside=e.occupied_outside)


@public_event(ev.PlaceReserved)
class PlaceReserved(PublicEvent):
    unit: Pseudonym
    referral: Pseudonym
    over_capacity: bool

    @classmethod
    def of(cls, e: ev.PlaceReserved, c: Publication) -> PlaceReserved:
        return cls(
            unit=c.p("unit", e.unit_id),
            referral=c.p("referral", e.referral_id),
            over_capacity=e.override_reason is not None,
        )


@public_event(ev.PlaceReleased)
class PlaceReleased(PublicEvent):
    unit: Pseudonym
    referral: Pseudonym
    because: ReleaseCause

    @classmethod
    def of(cls, e: ev.PlaceReleased, c: Publication) -> PlaceReleased:
        return cls(
            unit=c.p("unit", e.unit_id), referral=c.p("referral", e.referral_id), because=e.because
        )


@public_event(
    ev.PlaceHeld,
    en="A place of a unit was held by hand (no note): which unit, until when.",
    fr="Une place d'une unité a été réservée à la main (sans la note) : quelle unité, "
    "jusqu'à quand.",
)
class PlaceHeld(PublicEvent):
    unit: Pseudonym
    hold: Pseudonym
    until: date | None

    @classmethod
    def of(cls, e: ev.PlaceHeld, c: Publication) -> PlaceHeld:
        return cls(
            unit=c.p("unit", e.unit_id),
            hold=c.p("hold", e.hold_id),
            until=c.day(e.until) if e.until else None,
        )


@public_event(ev.PlaceFreed)
class PlaceFreed(PublicEvent):
    unit: Pseudonym
    hold: Pseudonym

    @classmethod
    def of(cls, e: ev.PlaceFreed, c: Publication) -> PlaceFreed:
        return cls(unit=c.p("unit", e.unit_id), hold=c.p("hold", e.hold_id))


@public_event(
    ev.TrainingSessionHeld,
    en="A training session was held: by which agency, on which day, for which sector, and how "
    "many took part (no names, no topic text).",
    fr="Une session de formation a eu lieu : quelle structure, quel jour, pour quel secteur, "
    "et combien y ont participé (ni noms, ni intitulé).",
)
class TrainingSessionHeld(PublicEvent):
    session: Pseudonym
    agency: Pseudonym
    held_on: date | None
    sector: Sector | None
    participants: int

    @classmethod
    def of(cls, e: ev.TrainingSessionHeld, c: Publication) -> TrainingSessionHeld:
        return cls(
            session=c.p("session", e.session_id),
            agency=c.p("agency", e.agency_id),
            held_on=c.day(e.held_on),
            sector=e.sector,
            participants=len(set(e.participants)),
        )
