"""The indicators and the dimensions they break down by, as data: codes, French and English
labels, what each indicator counts, what places a record in a period, and which breakdowns
and filters it allows. ``GET /statistics`` is this module, serialised."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from shared.i18n import Message
from shared.reference import codes, frameworks, locations

Measure = Literal["count", "share", "duration", "distribution", "availability"]

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


@dataclass(frozen=True)
class Indicator:
    code: str
    label: Message
    description: Message
    unit: Message  # what one counted thing is
    measure: Measure
    period_basis: Message  # which date places a record in a period
    breakdowns: tuple[str, ...]
    filters: tuple[str, ...] = ()
    # A record may hold several values of these (a report's concerns, a child's services):
    # it then counts once in each, and totals count each thing once.
    multi_valued: frozenset[str] = frozenset()
    # Counts of children, their records, or staff: small cells are suppressed for every role
    # but the auditor. Directory facts and publications are not about people.
    protected: bool = True
    # Measured at the end of each period (a stock) rather than counted over it (a flow).
    stock: bool = False
    # Extra words for a share's numerator, or a duration's / distribution's values.
    value_label: Message | None = None
    periods: tuple[str, ...] = ("day", "month", "quarter", "year")

    @property
    def allowed_filters(self) -> tuple[str, ...]:
        return self.filters or self.breakdowns


REPORT_DIMS = (
    "channel",
    "concern",
    "department",
    "commune",
    "sex",
    "age_band",
    "agency",
    "urgency",
)
CASE_DIMS = ("sex", "age_band", "concern", "department", "commune", "agency")
REFERRAL_DIMS = ("service_kind", "to_unit", "to_agency", "from_agency", "urgency")
HOURS = Message(en="hours", fr="heures")


def _referrals(code: str, en: str, fr: str, basis_en: str, basis_fr: str) -> Indicator:
    return Indicator(
        code=code,
        label=Message(en=en, fr=fr),
        description=Message(
            en=f"{en}, counted on the day the referral was {basis_en}.",
            fr=f"{fr}, comptées le jour où l'orientation a été {basis_fr}.",
        ),
        unit=Message(en="referrals", fr="orientations"),
        measure="count",
        period_basis=Message(
            en=f"when the referral was {basis_en}", fr=f"date où l'orientation a été {basis_fr}"
        ),
        breakdowns=REFERRAL_DIMS,
    )


def _time_to(code: str, en: str, fr: str, milestone_en: str, milestone_fr: str) -> Indicator:
    return Indicator(
        code=code,
        label=Message(en=en, fr=fr),
        description=Message(
            en=f"Hours from the report's receipt to {milestone_en}: number of cases, median, "
            "mean and 90th percentile.",
            fr=f"Heures entre la réception du signalement et {milestone_fr} : nombre de "
            "dossiers, médiane, moyenne et 90e centile.",
        ),
        unit=Message(en="cases", fr="dossiers"),
        measure="duration",
        period_basis=Message(en=milestone_en, fr=milestone_fr),
        breakdowns=("agency", "urgency", "department", "commune", "sex", "age_band"),
        value_label=HOURS,
    )


INDICATORS: dict[str, Indicator] = {
    i.code: i
    for i in (
        Indicator(
            code="reports_received",
            label=Message(en="Reports received", fr="Signalements reçus"),
            description=Message(
                en="Reports registered, by the day they were received. A report about several "
                "children or concerns counts once in each of their categories.",
                fr="Signalements enregistrés, selon leur date de réception. Un signalement "
                "concernant plusieurs enfants ou préoccupations compte une fois dans chacune "
                "de leurs catégories.",
            ),
            unit=Message(en="reports", fr="signalements"),
            measure="count",
            period_basis=Message(en="when the report was received", fr="date de réception"),
            breakdowns=REPORT_DIMS,
            multi_valued=frozenset({"concern", "sex", "age_band"}),
        ),
        Indicator(
            code="reports_screened_within_deadline",
            label=Message(
                en="Reports screened within the urgency deadline",
                fr="Signalements triés dans le délai de l'urgence",
            ),
            description=Message(
                en="Share of reports whose first screening met its deadline (24 h, 72 h or "
                "7 days from receipt); reports past their deadline unscreened count as late, "
                "reports still within it are left out.",
                fr="Part des signalements dont le premier tri a respecté son délai (24 h, "
                "72 h ou 7 jours après réception) ; un signalement non trié après son délai "
                "compte comme en retard, ceux encore dans leur délai sont exclus.",
            ),
            unit=Message(en="reports", fr="signalements"),
            measure="share",
            period_basis=Message(en="when the report was received", fr="date de réception"),
            breakdowns=("channel", "urgency", "department", "commune", "agency"),
            value_label=Message(en="screened within the deadline", fr="triés dans le délai"),
        ),
        Indicator(
            code="children_served",
            label=Message(en="Children served", fr="Enfants pris en charge"),
            description=Message(
                en="Unique children with at least one service delivered (recorded on the case "
                "or a referral completed). Children linked as duplicates count once.",
                fr="Enfants distincts ayant reçu au moins un service (enregistré au dossier ou "
                "orientation menée à terme). Les fiches liées comme doublons comptent une fois.",
            ),
            unit=Message(en="children", fr="enfants"),
            measure="count",
            period_basis=Message(en="when the service was delivered", fr="date du service"),
            breakdowns=(
                "sex",
                "age_band",
                "concern",
                "service_kind",
                "agency",
                "department",
                "commune",
            ),
            multi_valued=frozenset({"concern", "service_kind", "agency"}),
        ),
        Indicator(
            code="trafficking_cases",
            label=Message(en="Trafficking cases", fr="Cas de traite"),
            description=Message(
                en="Cases opened with a trafficking concern (sexual, labour or other purposes).",
                fr="Dossiers ouverts pour une préoccupation de traite (à des fins sexuelles, de "
                "travail ou autres).",
            ),
            unit=Message(en="cases", fr="dossiers"),
            measure="count",
            period_basis=Message(en="when the case was opened", fr="date d'ouverture"),
            breakdowns=CASE_DIMS,
            multi_valued=frozenset({"concern"}),
        ),
        Indicator(
            code="cases_opened",
            label=Message(en="Cases opened", fr="Dossiers ouverts"),
            description=Message(
                en="Cases opened, from an accepted report or directly by a worker.",
                fr="Dossiers ouverts, à partir d'un signalement accepté ou directement.",
            ),
            unit=Message(en="cases", fr="dossiers"),
            measure="count",
            period_basis=Message(en="when the case was opened", fr="date d'ouverture"),
            breakdowns=(*CASE_DIMS, "urgency"),
            multi_valued=frozenset({"concern"}),
        ),
        Indicator(
            code="cases_open",
            label=Message(en="Open cases", fr="Dossiers en cours"),
            description=Message(
                en="Cases open at the end of each period (or of the range), by the stage, "
                "risk level and agency they had then.",
                fr="Dossiers ouverts à la fin de chaque période (ou de l'intervalle), selon "
                "l'étape, le niveau de risque et la structure qu'ils avaient alors.",
            ),
            unit=Message(en="cases", fr="dossiers"),
            measure="count",
            period_basis=Message(en="state at the period's end", fr="état en fin de période"),
            breakdowns=("stage", "risk", *CASE_DIMS),
            multi_valued=frozenset({"concern"}),
            stock=True,
        ),
        _time_to(
            "time_to_case_opening",
            "Time from report to case opening",
            "Délai entre signalement et ouverture du dossier",
            "the case's opening",
            "l'ouverture du dossier",
        ),
        _time_to(
            "time_to_first_assessment",
            "Time from report to first assessment",
            "Délai entre signalement et première évaluation",
            "the first assessment",
            "la première évaluation",
        ),
        _time_to(
            "time_to_case_plan",
            "Time from report to case plan",
            "Délai entre signalement et plan d'intervention",
            "the case plan (first goal or plan stage)",
            "le plan d'intervention (premier objectif ou étape du plan)",
        ),
        Indicator(
            code="case_closures",
            label=Message(en="Case closures", fr="Clôtures de dossiers"),
            description=Message(
                en="Cases closed, by the reason approved.",
                fr="Dossiers clos, selon le motif approuvé.",
            ),
            unit=Message(en="closures", fr="clôtures"),
            measure="count",
            period_basis=Message(en="when the case was closed", fr="date de clôture"),
            breakdowns=("closure_reason", *CASE_DIMS),
            multi_valued=frozenset({"concern"}),
        ),
        Indicator(
            code="caseload_per_worker",
            label=Message(en="Caseload per worker", fr="Charge de travail par intervenant"),
            description=Message(
                en="Open cases per assigned case worker at the end of each period: number of "
                "workers, mean, median and largest caseload.",
                fr="Dossiers ouverts par travailleur social affecté en fin de période : nombre "
                "d'intervenants, moyenne, médiane et charge la plus élevée.",
            ),
            unit=Message(en="workers", fr="intervenants"),
            measure="distribution",
            period_basis=Message(en="state at the period's end", fr="état en fin de période"),
            breakdowns=("agency",),
            stock=True,
            value_label=Message(en="open cases", fr="dossiers ouverts"),
        ),
        _referrals("referrals_sent", "Referrals sent", "Orientations émises", "made", "émise"),
        _referrals(
            "referrals_accepted",
            "Referrals accepted",
            "Orientations acceptées",
            "accepted",
            "acceptée",
        ),
        _referrals(
            "referrals_declined",
            "Referrals declined",
            "Orientations refusées",
            "declined",
            "refusée",
        ),
        _referrals(
            "referrals_completed",
            "Referrals completed",
            "Orientations menées à terme",
            "completed",
            "menée à terme",
        ),
        _referrals(
            "referrals_overdue",
            "Referrals overdue",
            "Orientations en retard",
            "flagged overdue",
            "signalée en retard",
        ),
        Indicator(
            code="referral_time_to_acceptance",
            label=Message(
                en="Time to accept a referral", fr="Délai d'acceptation des orientations"
            ),
            description=Message(
                en="Hours from a referral being made to its acceptance: number, median, mean "
                "and 90th percentile.",
                fr="Heures entre l'émission d'une orientation et son acceptation : nombre, "
                "médiane, moyenne et 90e centile.",
            ),
            unit=Message(en="referrals", fr="orientations"),
            measure="duration",
            period_basis=Message(en="when the referral was accepted", fr="date d'acceptation"),
            breakdowns=("service_kind", "to_unit", "to_agency", "urgency"),
            value_label=HOURS,
        ),
        Indicator(
            code="service_availability",
            label=Message(en="Service availability", fr="Disponibilité des services"),
            description=Message(
                en="Per hub (or unit without a hub): the expected service kinds that the hub "
                "and its units offer, e.g. 11 of 15, as the directory stands now.",
                fr="Par pôle (ou unité hors pôle) : les types de service attendus que le pôle "
                "et ses unités offrent, p. ex. 11 sur 15, selon l'annuaire actuel.",
            ),
            unit=Message(en="service kinds", fr="types de service"),
            measure="availability",
            period_basis=Message(en="the directory now", fr="l'annuaire actuel"),
            breakdowns=(),
            filters=("agency", "department", "commune"),
            protected=False,
            periods=(),
        ),
        Indicator(
            code="training_sessions",
            label=Message(en="Training sessions held", fr="Sessions de formation tenues"),
            description=Message(en="Training sessions held.", fr="Sessions de formation tenues."),
            unit=Message(en="sessions", fr="sessions"),
            measure="count",
            period_basis=Message(en="when the session was held", fr="date de la session"),
            breakdowns=("agency", "sector"),
        ),
        Indicator(
            code="staff_trained",
            label=Message(en="Staff trained", fr="Personnel formé"),
            description=Message(
                en="Unique staff members who took part in at least one training session.",
                fr="Membres du personnel distincts ayant suivi au moins une session.",
            ),
            unit=Message(en="staff members", fr="membres du personnel"),
            measure="count",
            period_basis=Message(en="when the session was held", fr="date de la session"),
            breakdowns=("agency", "sector"),
            multi_valued=frozenset({"agency"}),
        ),
        Indicator(
            code="staff_assessed",
            label=Message(en="Staff assessed", fr="Personnel évalué"),
            description=Message(
                en="Unique staff members assessed, per competency and level reached.",
                fr="Membres du personnel distincts évalués, par compétence et niveau atteint.",
            ),
            unit=Message(en="staff members", fr="membres du personnel"),
            measure="count",
            period_basis=Message(en="the assessment's date", fr="date de l'évaluation"),
            breakdowns=("competency", "level", "sector", "agency"),
            multi_valued=frozenset({"competency", "level", "sector"}),
        ),
        Indicator(
            code="cases_with_qualified_worker",
            label=Message(
                en="Assigned cases handled by a qualified worker",
                fr="Dossiers affectés suivis par un intervenant qualifié",
            ),
            description=Message(
                en="Share of open, assigned cases at the end of each period whose worker was "
                "assessed at least 'meets expectations' in every competency the case needs "
                "(no competency missing at assignment).",
                fr="Part des dossiers ouverts et affectés en fin de période dont l'intervenant "
                "a été évalué au moins « répond aux attentes » dans chaque compétence requise "
                "(aucune compétence manquante à l'affectation).",
            ),
            unit=Message(en="cases", fr="dossiers"),
            measure="share",
            period_basis=Message(en="state at the period's end", fr="état en fin de période"),
            breakdowns=("agency", "department", "commune"),
            stock=True,
            value_label=Message(en="with a qualified worker", fr="avec un intervenant qualifié"),
        ),
        Indicator(
            code="statistical_reports_on_time",
            label=Message(
                en="Statistical reports published within their deadline",
                fr="Rapports statistiques publiés dans le délai",
            ),
            description=Message(
                en="Share of periodic statistical reports published by their due date.",
                fr="Part des rapports statistiques périodiques publiés avant leur échéance.",
            ),
            unit=Message(en="reports", fr="rapports"),
            measure="share",
            period_basis=Message(en="when the report was published", fr="date de publication"),
            breakdowns=("definition",),
            protected=False,
            value_label=Message(en="on time", fr="dans le délai"),
        ),
    )
}


@dataclass(frozen=True)
class Catalogue:
    indicators: Mapping[str, Indicator] = field(default_factory=lambda: INDICATORS)
    dimensions: Mapping[str, Dimension] = field(default_factory=lambda: DIMENSIONS)


def message_dict(message: Message) -> dict[str, str]:
    return {"en": message.en, "fr": message.fr}


def describe_indicator(indicator: Indicator) -> dict[str, object]:
    return {
        "code": indicator.code,
        "label": message_dict(indicator.label),
        "description": message_dict(indicator.description),
        "unit": message_dict(indicator.unit),
        "measure": indicator.measure,
        "period_basis": message_dict(indicator.period_basis),
        "periods": list(indicator.periods),
        "breakdowns": list(indicator.breakdowns),
        "filters": list(indicator.allowed_filters),
        "multi_valued": sorted(indicator.multi_valued),
        "protected": indicator.protected,
        "stock": indicator.stock,
    }


def describe_dimension(dimension: Dimension) -> dict[str, object]:
    values = dimension.values() if dimension.values else None
    return {
        "code": dimension.code,
        "label": message_dict(dimension.label),
        "values": (
            [{"code": c, "label": message_dict(m)} for c, m in values.items()]
            if values is not None
            else None
        ),
    }
