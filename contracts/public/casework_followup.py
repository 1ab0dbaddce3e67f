"""Casework's follow-up events as integrators see them: services delivered, visits, and
transfers between agencies, by pseudonym, without notes, findings, reasons or people
(decision 0021). The case's own path is in ``contracts.public.casework``."""

from __future__ import annotations

from datetime import date

from contracts import casework as ev
from contracts.public.base import (
    Pseudonym,
    Publication,
    PublicEvent,
    RiskLevel,
    ServiceKind,
    public_event,
)


@public_event(ev.ServiceDelivered)
class ServiceDelivered(PublicEvent):
    service: Pseudonym
    child: Pseudonym
    service_kind: ServiceKind
    agency: Pseudonym
    unit: Pseudonym | None
    delivered_on: date | None
    action: Pseudonym | None
    referral: Pseudonym | None

    @classmethod
    def of(cls, e: ev.ServiceDelivered, c: Publication) -> ServiceDelivered:
        return cls(
            service=c.p("service", e.service_id),
            child=c.p("child", e.child_id),
            service_kind=e.service_kind,
            agency=c.p("agency", e.agency),
            unit=c.maybe("unit", e.unit),
            delivered_on=c.day(e.delivered_on),
            action=c.maybe("action", e.action_id),
            referral=c.maybe("referral", e.referral_id),
        )


@public_event(
    ev.FollowUpVisitRecorded,
    en="A follow-up visit was recorded: whether the child was seen and the risk level if "
    "reassessed (not the findings).",
    fr="Une visite de suivi a été enregistrée : si l'enfant a été vu et le niveau de risque "
    "s'il a été réévalué (pas les constats).",
)
class FollowUpVisitRecorded(PublicEvent):
    visit: Pseudonym
    visited_on: date | None
    child_seen: bool
    risk_level: RiskLevel | None
    next_visit_due: date | None

    @classmethod
    def of(cls, e: ev.FollowUpVisitRecorded, c: Publication) -> FollowUpVisitRecorded:
        return cls(
            visit=c.p("visit", e.visit_id),
            visited_on=c.day(e.visited_on),
            child_seen=e.child_seen,
            risk_level=e.risk_level,
            next_visit_due=c.day(e.next_visit_due),
        )


@public_event(ev.FollowUpVisitOverdue)
class FollowUpVisitOverdue(PublicEvent):
    visit: Pseudonym
    due_on: date | None

    @classmethod
    def of(cls, e: ev.FollowUpVisitOverdue, c: Publication) -> FollowUpVisitOverdue:
        return cls(visit=c.p("visit", e.visit_id), due_on=c.day(e.due_on))


@public_event(
    ev.TransferRequested,
    en="The owning agency asked another agency to take over the case (the reason is not "
    "published).",
    fr="La structure responsable a demandé à une autre de reprendre le dossier (le motif "
    "n'est pas publié).",
)
class TransferRequested(PublicEvent):
    transfer: Pseudonym
    from_agency: Pseudonym
    to_agency: Pseudonym
    to_unit: Pseudonym | None

    @classmethod
    def of(cls, e: ev.TransferRequested, c: Publication) -> TransferRequested:
        return cls(
            transfer=c.p("transfer", e.transfer_id),
            from_agency=c.p("agency", e.from_agency),
            to_agency=c.p("agency", e.to_agency),
            to_unit=c.maybe("unit", e.to_unit),
        )


@public_event(ev.TransferAccepted)
class TransferAccepted(PublicEvent):
    transfer: Pseudonym
    from_agency: Pseudonym
    to_agency: Pseudonym
    to_unit: Pseudonym | None

    @classmethod
    def of(cls, e: ev.TransferAccepted, c: Publication) -> TransferAccepted:
        return cls(
            transfer=c.p("transfer", e.transfer_id),
            from_agency=c.p("agency", e.from_agency),
            to_agency=c.p("agency", e.to_agency),
            to_unit=c.maybe("unit", e.to_unit),
        )


@public_event(
    ev.TransferDeclined,
    en="The receiving agency declined the transfer (the reason is not published).",
    fr="La structure destinataire a refusé le transfert (le motif n'est pas publié).",
)
class TransferDeclined(PublicEvent):
    transfer: Pseudonym
    to_agency: Pseudonym

    @classmethod
    def of(cls, e: ev.TransferDeclined, c: Publication) -> TransferDeclined:
        return cls(transfer=c.p("transfer", e.transfer_id), to_agency=c.p("agency", e.to_agency))


@public_event(
    ev.TransferWithdrawn,
    en="The owning agency withdrew its transfer request (the reason is not published).",
    fr="La structure responsable a retiré sa demande de transfert (le motif n'est pas publié).",
)
class TransferWithdrawn(PublicEvent):
    transfer: Pseudonym
    to_agency: Pseudonym

    @classmethod
    def of(cls, e: ev.TransferWithdrawn, c: Publication) -> TransferWithdrawn:
        return cls(transfer=c.p("transfer", e.transfer_id), to_agency=c.p("agency", e.to_agency))
