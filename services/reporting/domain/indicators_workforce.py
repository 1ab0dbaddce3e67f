"""The indicators of the workforce and of publication: training sessions, staff trained and
assessed, cases with a qualified worker, and statistical reports published on time."""

from __future__ import annotations

from services.reporting.domain.indicator import Indicator
from shared.i18n import Message

WORKFORCE_INDICATORS: tuple[Indicator, ...] = (
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
