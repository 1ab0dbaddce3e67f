"""Casework's request to intake to correct a child's record (decision 0006): registered with
the other casework events, which import this module, and kept apart only for size."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from shared.events import DomainEvent, event_type


@event_type(
    context="casework",
    aggregate="case",
    en="A worker on the case reported corrected details of the child (the changed fields and "
    "the reason); intake corrects the child record from it.",
    fr="Un intervenant du dossier a signalé des informations corrigées sur l'enfant (les "
    "champs modifiés et le motif) ; l'accueil corrige la fiche enfant à partir de celles-ci.",
)
class ChildDetailsReported(DomainEvent):
    # Identifying: never in logs or feeds, and casework keeps only the field names.
    sensitive_fields = frozenset({"changes", "reason"})

    case_id: str
    child_id: str
    changes: dict[str, Any] = Field(
        min_length=1,
        description="The corrected fields only, named as in intake's correction body (name, "
        "alias, sex, date_of_birth, age_years, age_range, documented, school_status, "
        "vulnerabilities, whereabouts); null empties a field",
    )
    reason: str = Field(max_length=1000)
