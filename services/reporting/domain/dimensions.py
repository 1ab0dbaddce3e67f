"""The ways a statistic breaks down (sex, age band, concern, place, agency...): each
dimension's label and its known codes in display order, with the code for an unknown value."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from shared.i18n import Message
from shared.reference import codes, frameworks, locations

UNKNOWN = "unknown"
UNKNOWN_LABEL = Message(en="Unknown", fr="Inconnu")
SEXES = ("female", "male", "unknown", "other")
TRAFFICKING_PREFIX = "trafficking_"

STAGE_LABELS = {
    "registration": Message(en="Registration", fr="Enregistrement"),
    "initial_assessment": Message(en="Initial assessment", fr="Évaluation initiale"),
    "comprehensive_assessment": Message(en="Comprehensive assessment", fr="Évaluation approfondie"),
    "best_interests": Message(en="Best interests", fr="Intérêt supérieur"),
    "case_plan": Message(en="Case plan", fr="Plan d'intervention"),
    "implementation": Message(en="Implementation", fr="Mise en œuvre"),
    "follow_up": Message(en="Follow-up", fr="Suivi"),
    "closure": Message(en="Closure", fr="Clôture"),
}
RISK_LABELS = {
    "low": Message(en="Low", fr="Faible"),
    "medium": Message(en="Medium", fr="Moyen"),
    "high": Message(en="High", fr="Élevé"),
}
OUTCOME_LABELS = {
    "met": Message(en="Yes", fr="Oui"),
    "not_met": Message(en="No", fr="Non"),
}


def _with_unknown(values: Mapping[str, Message]) -> dict[str, Message]:
    return {**values, UNKNOWN: values.get(UNKNOWN, UNKNOWN_LABEL)}


def _departments() -> dict[str, Message]:
    return _with_unknown({a.code: Message(en=a.name, fr=a.name) for a in locations().at_level(0)})


def _communes() -> dict[str, Message]:
    return _with_unknown({a.code: Message(en=a.name, fr=a.name) for a in locations().at_level(1)})


def _age_bands() -> dict[str, Message]:
    bands = {
        code: Message(en=f"{low}-{high}", fr=f"{low}-{high} ans")
        for code, low, high in codes().age_bands
    }
    return _with_unknown(bands)


@dataclass(frozen=True)
class Dimension:
    """A way to break a count down. ``values`` gives the known codes in display order, with
    labels; ``None`` means codes come from the data and the directory (agencies, units)."""

    code: str
    label: Message
    values: Callable[[], dict[str, Message]] | None = None


DIMENSIONS: dict[str, Dimension] = {
    d.code: d
    for d in (
        Dimension("period", Message(en="Period", fr="Période")),
        Dimension(
            "channel", Message(en="Channel", fr="Canal"), lambda: _with_unknown(codes().channels)
        ),
        Dimension(
            "concern", Message(en="Concern", fr="Préoccupation"), lambda: dict(codes().concerns)
        ),
        Dimension("department", Message(en="Department", fr="Département"), _departments),
        Dimension("commune", Message(en="Commune", fr="Commune"), _communes),
        Dimension(
            "sex", Message(en="Sex", fr="Sexe"), lambda: {s: codes().sexes[s] for s in SEXES}
        ),
        Dimension("age_band", Message(en="Age band", fr="Tranche d'âge"), _age_bands),
        Dimension("urgency", Message(en="Urgency", fr="Urgence"), lambda: dict(codes().urgencies)),
        Dimension("agency", Message(en="Agency", fr="Structure")),
        Dimension("unit", Message(en="Unit", fr="Unité")),
        Dimension("to_agency", Message(en="Receiving agency", fr="Structure destinataire")),
        Dimension("to_unit", Message(en="Receiving unit", fr="Unité destinataire")),
        Dimension("from_agency", Message(en="Referring agency", fr="Structure d'origine")),
        Dimension(
            "service_kind",
            Message(en="Service kind", fr="Type de service"),
            lambda: dict(codes().service_kinds),
        ),
        Dimension("stage", Message(en="Workflow stage", fr="Étape"), lambda: dict(STAGE_LABELS)),
        Dimension(
            "risk", Message(en="Risk level", fr="Niveau de risque"), lambda: dict(RISK_LABELS)
        ),
        Dimension(
            "closure_reason",
            Message(en="Closure reason", fr="Motif de clôture"),
            lambda: _with_unknown(codes().closure_reasons),
        ),
        Dimension(
            "sector",
            Message(en="Sector", fr="Secteur"),
            lambda: _with_unknown(frameworks().sectors),
        ),
        Dimension(
            "competency",
            Message(en="Competency", fr="Compétence"),
            lambda: {c.code: c.label for c in frameworks().competencies.values()},
        ),
        Dimension(
            "level",
            Message(en="Assessment level", fr="Niveau d'évaluation"),
            lambda: dict(frameworks().level_labels),
        ),
        Dimension("hub", Message(en="Hub or unit", fr="Pôle ou unité")),
        Dimension("definition", Message(en="Report definition", fr="Définition de rapport")),
        Dimension("outcome", Message(en="Outcome", fr="Résultat"), lambda: dict(OUTCOME_LABELS)),
    )
}
# Codes of the directory: checked against the agencies and units the directory knows.
DIRECTORY_DIMENSIONS = frozenset({"agency", "unit", "to_agency", "to_unit", "from_agency", "hub"})
