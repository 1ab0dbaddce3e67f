"""Making a referral: the one place its rules are checked against the directory and the
cases referral knows, for a worker's request over HTTP and for casework's requests alike.

The body has passed :class:`ReferBody`'s validation (codes, consent, shared fields); what is
left needs the read model: the unit exists and offers the service, the referring unit
exists, and the case is the referring agency's and the child is the case's child."""

from __future__ import annotations

from datetime import UTC

from sqlalchemy.ext.asyncio import AsyncEngine

from services.referral.cases import case_owner
from services.referral.config import ReferralConfig
from services.referral.domain import Make, decide, due_at, iso
from services.referral.events import Consent, ReferralDetailsShared, ReferralMade
from services.referral.schemas import ReferBody
from services.referral.web import invalid, known_unit
from shared.domain import DomainError
from shared.events import DomainEvent
from shared.i18n import Message

# The case exists but another agency owns it. The HTTP API answers it as a missing case (its
# existence is not the caller's business); casework, which asked itself, is told plainly.
CASE_OF_ANOTHER_AGENCY = "case_of_another_agency"


async def referral_events(
    engine: AsyncEngine,
    config: ReferralConfig,
    body: ReferBody,
    *,
    referral_id: str,
    from_agency: str,
) -> list[DomainEvent]:
    """``ReferralMade`` and ``ReferralDetailsShared``, or a :class:`DomainError` naming the
    field and the reason in French and English."""
    unit = await known_unit(engine, body.to_unit, "to_unit")
    if body.service_kind not in unit.service_kinds:
        raise invalid(
            "service_kind",
            "The unit does not offer this service.",
            "L'unité n'offre pas ce service.",
            "service_not_offered",
        )
    if body.from_unit is not None:
        await known_unit(engine, body.from_unit, "from_unit")
    owner = await case_owner(engine, body.case_id)
    if owner is not None:
        agency, child_id = owner
        if agency != from_agency:
            raise DomainError(
                CASE_OF_ANOTHER_AGENCY,
                Message(
                    en="This case belongs to another agency: only its agency may refer it.",
                    fr="Ce dossier relève d'une autre structure : elle seule peut l'orienter.",
                ),
                status=404,
                field="case_id",
            )
        if child_id != body.child_id:
            raise invalid(
                "child_id",
                "This child is not the child of this case.",
                "Cet enfant n'est pas celui de ce dossier.",
                "child_not_in_case",
            )
    consent = body.consent
    made = ReferralMade(
        referral_id=referral_id,
        case_id=body.case_id,
        child_id=body.child_id,
        from_agency=from_agency,
        from_unit=body.from_unit,
        to_agency=unit.agency_id,
        to_unit=body.to_unit,
        service_kind=body.service_kind,
        urgency=body.urgency,
        reason=body.reason,
        consent=Consent(
            given=consent.given,
            given_by=consent.given_by,
            given_at=iso(consent.given_at.astimezone(UTC)) if consent.given_at else None,
            reason_not_sought=consent.reason_not_sought,
        ),
        shared_fields=list(dict.fromkeys(body.shared_fields)),
        due_at=iso(due_at(config.clock(), body.urgency, config.deadline_hours).astimezone(UTC)),
    )
    details = ReferralDetailsShared(referral_id=referral_id, **body.details.model_dump())
    return decide(None, Make(made, details))
