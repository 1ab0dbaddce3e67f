"""Making a referral: the one place its rules are checked against the directory and the
cases referral knows, for a worker's request over HTTP and for casework's requests alike.

The body has passed :class:`ReferBody`'s validation (codes, consent, shared fields); what is
left needs the read model: the unit exists and offers the service, the referring unit
exists, and the case is the referring agency's and the child is the case's child."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import Field, field_validator, model_validator
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.referral import SHAREABLE, Consent, ReferralDetailsShared, ReferralMade, Shareable
from services.referral.app.common import ID_PATTERN, Body, invalid, known_unit
from services.referral.config import ReferralConfig
from services.referral.domain import Make, due_at, iso
from services.referral.read.cases import case_owner
from shared.domain import DomainError
from shared.i18n import LocalisedValueError, Message
from shared.reference import check_code, codes
from shared.validation import check_consent


class ConsentBody(Body):
    given: bool
    given_by: Literal["child", "guardian", "both", "court"] | None = None
    given_at: datetime | None = None
    reason_not_sought: str | None = Field(default=None, max_length=1000)

    @model_validator(mode="after")
    def _complete(self) -> ConsentBody:
        check_consent(self.given, self.given_by, self.given_at, self.reason_not_sought)
        return self


class DetailsBody(Body):
    child_age_band: str | None = None
    child_sex: str | None = None
    concerns: list[str] | None = Field(default=None, max_length=20)
    contact: str | None = Field(default=None, max_length=500)

    @field_validator("child_age_band")
    @classmethod
    def _band(cls, value: str | None) -> str | None:
        bands = {b[0]: b for b in codes().age_bands} | {"unknown": ()}
        return None if value is None else check_code(value, bands, "age band", "Tranche d'âge")

    @field_validator("child_sex")
    @classmethod
    def _sex(cls, value: str | None) -> str | None:
        return None if value is None else check_code(value, codes().sexes, "sex", "Sexe")

    @field_validator("concerns")
    @classmethod
    def _concerns(cls, value: list[str] | None) -> list[str] | None:
        for concern in value or []:
            check_code(concern, codes().concerns, "concern", "Problématique")
        return value


class ReferBody(Body):
    case_id: str = Field(pattern=ID_PATTERN)
    child_id: str = Field(pattern=ID_PATTERN)
    from_unit: str | None = None
    to_unit: str
    service_kind: str
    urgency: str
    reason: str = Field(min_length=1, max_length=2000)
    consent: ConsentBody
    shared_fields: list[Shareable] = Field(max_length=len(SHAREABLE))
    details: DetailsBody = Field(default_factory=DetailsBody)
    action_id: str | None = Field(
        default=None,
        pattern=ID_PATTERN,
        description="The case plan action this referral carries out (casework shows the "
        "referral on it)",
    )

    @field_validator("service_kind")
    @classmethod
    def _kind(cls, value: str) -> str:
        return check_code(value, codes().service_kinds, "service kind", "Type de service")

    @field_validator("urgency")
    @classmethod
    def _urgency(cls, value: str) -> str:
        return check_code(value, codes().urgency_hours, "urgency", "Urgence")

    @model_validator(mode="after")
    def _only_shared_details(self) -> ReferBody:
        given = self.details.model_dump(exclude_none=True)
        hidden = sorted(set(given) - set(self.shared_fields))
        if hidden:
            raise LocalisedValueError(
                Message(
                    en=f"Details given but not shared: {', '.join(hidden)}. Add them to "
                    "shared_fields or leave them out.",
                    fr=f"Détails fournis mais non partagés : {', '.join(hidden)}. Ajoutez-les à "
                    "shared_fields ou retirez-les.",
                )
            )
        return self


# The case exists but another agency owns it. The HTTP API answers it as a missing case (its
# existence is not the caller's business); casework, which asked itself, is told plainly.
CASE_OF_ANOTHER_AGENCY = "case_of_another_agency"


async def make_command(
    engine: AsyncEngine,
    config: ReferralConfig,
    body: ReferBody,
    *,
    referral_id: str,
    from_agency: str,
) -> Make:
    """The referral to make (``ReferralMade`` and ``ReferralDetailsShared``), or a
    :class:`DomainError` naming the field and the reason in French and English."""
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
        action_id=body.action_id,
    )
    details = ReferralDetailsShared(referral_id=referral_id, **body.details.model_dump())
    return Make(made, details)
