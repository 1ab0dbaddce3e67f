"""The indicators of reports, children and cases: reports received and screened, children
served, cases opened, open, closed, their delays and the caseload per worker."""

from __future__ import annotations

from services.reporting.domain.indicator import HOURS, Indicator
from shared.i18n import Message

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


CASE_INDICATORS: tuple[Indicator, ...] = (
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
)
