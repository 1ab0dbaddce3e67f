"""The intake service's events: its public contract."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.events import DomainEvent, event_type, upcaster


class AcceptedChild(BaseModel):
    """What casework needs of a child: an id and what statistics need; no name, no birth
    date (those stay in intake, read through its API with access recorded)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    child_id: str
    sex: str = Field(description="female, male, unknown, other")
    age_years: int | None = Field(default=None, ge=0, le=17)
    age_band: str = Field(description="0-4, 5-9, 10-14, 15-17 or unknown")


@event_type(
    context="intake",
    aggregate="report",
    en="A screened report is a protection concern: casework opens a case, or adds the report "
    "to the child's open case.",
    fr="Un signalement trié relève de la protection : le suivi ouvre un dossier ou ajoute le "
    "signalement au dossier ouvert de l'enfant.",
)
class ReportAccepted(DomainEvent):
    report_id: str
    children: list[AcceptedChild] = Field(min_length=1)
    concerns: list[str] = Field(min_length=1)
    urgency: str = Field(description="emergency, high or normal")
    commune: str = Field(description="Location code, or 'unknown'")
    agency: str = Field(description="Agency that will own the case")
    unit: str | None = None
    received_at: str = Field(description="When the report was received (RFC 3339)")
    accepted_at: str
    immediate_danger: bool = False


# -- reports -----------------------------------------------------------------------------------


class Reporter(BaseModel):
    """Who reported. Anonymous reports keep no contact at all."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    anonymous: bool = False
    name: str | None = None
    relation: str | None = Field(default=None, description="parent, neighbour, teacher, ...")
    contact: str | None = None


class ReportedChild(BaseModel):
    """A child as described in one report (identifying: kept out of logs and feeds)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    child_id: str
    unidentified: bool = False
    name: str | None = None
    alias: str | None = None
    sex: str = "unknown"
    date_of_birth: str | None = Field(default=None, description="YYYY-MM-DD")
    age_years: int | None = Field(default=None, ge=0, le=17)
    age_min: int | None = Field(default=None, ge=0, le=17)
    age_max: int | None = Field(default=None, ge=0, le=17)
    documented: bool | None = None
    school_status: str | None = None
    vulnerabilities: list[str] = Field(default_factory=list)
    whereabouts: str | None = None


@event_type(
    context="intake",
    aggregate="report",
    en="A report of a child protection concern was registered.",
    fr="Un signalement de préoccupation de protection de l'enfant a été enregistré.",
)
class ReportRegistered(DomainEvent):
    sensitive_fields = frozenset({"children", "reporter", "alleged_perpetrator", "narrative"})

    report_id: str
    agency: str
    unit: str | None = None
    channel: str
    received_at: str = Field(description="RFC 3339")
    commune: str = Field(description="Location code, or 'unknown'")
    concerns: list[str] = Field(min_length=1)
    children: list[ReportedChild] = Field(min_length=1)
    reporter: Reporter | None = None
    alleged_perpetrator: str | None = None
    narrative: str | None = None
    immediate_danger: bool = False
    urgency: str = Field(description="Provisional urgency until screening: sets the deadline")


@event_type(
    context="intake",
    aggregate="report",
    en="A screener decided what a report is: protection concern, not a concern, redirect, or "
    "more information needed, with an urgency and a rationale.",
    fr="Un agent de tri a qualifié un signalement : relève de la protection, ne relève pas, "
    "réorienté, ou informations complémentaires requises, avec urgence et justification.",
)
class ReportScreened(DomainEvent):
    sensitive_fields = frozenset({"rationale"})

    report_id: str
    decision: str = Field(
        description="protection_concern, not_a_concern, redirect, more_information"
    )
    urgency: str
    rationale: str
    redirect_to: str | None = None
    deadline: str = Field(description="received_at + the urgency's hours (RFC 3339)")
    screened_at: str
    within_deadline: bool
    rescreen_by: str | None = Field(
        default=None,
        description="For more_information: when the report must be screened again (RFC 3339)",
    )


@event_type(
    context="intake",
    aggregate="report",
    en="A report was corrected: the changed fields and the reason (nothing is edited in place).",
    fr="Un signalement a été corrigé : les champs modifiés et le motif (rien n'est écrasé).",
)
class ReportAmended(DomainEvent):
    sensitive_fields = frozenset({"changes", "reason"})

    report_id: str
    fields: list[str] = Field(min_length=1)
    changes: dict[str, Any]
    reason: str


@event_type(
    context="intake",
    aggregate="report",
    en="A report passed its screening deadline without being screened.",
    fr="Un signalement a dépassé son délai de tri sans être trié.",
)
class ScreeningOverdue(DomainEvent):
    report_id: str
    urgency: str
    deadline: str


@event_type(
    context="intake",
    aggregate="report",
    en="A report waiting for more information was not screened again by its deadline.",
    fr="Un signalement en attente d'informations complémentaires n'a pas été trié de nouveau "
    "dans le délai.",
)
class RescreeningOverdue(DomainEvent):
    report_id: str
    urgency: str
    deadline: str = Field(description="The rescreen_by of the more_information screening")


# -- children ----------------------------------------------------------------------------------


@event_type(
    context="intake",
    aggregate="child",
    en="A child mentioned in a report, or found by a worker who opened a case directly, got a "
    "child record.",
    fr="Un enfant mentionné dans un signalement, ou trouvé par un intervenant qui a ouvert un "
    "dossier directement, a reçu une fiche enfant.",
)
class ChildRecorded(DomainEvent):
    sensitive_fields = frozenset({"details"})

    child_id: str
    report_id: str | None = Field(
        default=None, description="The report that mentioned the child, if any"
    )
    case_id: str | None = Field(
        default=None, description="The case a worker opened directly for the child, if any"
    )
    agency: str
    commune: str
    received_at: str
    details: ReportedChild


@event_type(
    context="intake",
    aggregate="child",
    version=2,
    en="A child record looks like another one: a person must confirm or reject the match. "
    "Carries the matcher's field comparison, the weights that scored it and an explanation "
    "in French and English (v2).",
    fr="Une fiche enfant ressemble à une autre : une personne doit confirmer ou rejeter. "
    "Porte la comparaison champ par champ, les pondérations qui l'ont notée et une "
    "explication en français et en anglais (v2).",
)
class DuplicateSuggested(DomainEvent):
    # The explanation quotes the children's names.
    sensitive_fields = frozenset({"explanation_en", "explanation_fr"})

    child_id: str
    candidate_id: str
    score: float = Field(ge=0, le=1, description="Probability that both are one child")
    reasons: list[str] = Field(
        description="Fields that agree: name, sex, age, commune, department, reporter, whereabouts"
    )
    explanation_en: str = ""
    explanation_fr: str = ""
    comparison: dict[str, str] = Field(
        default_factory=dict,
        description="Agreement level of each field (name, other_names, sex, age, place, "
        "reporter, whereabouts, household); empty for suggestions made before v2",
    )
    weights_id: str = Field(
        default="v1",
        description="The MatchWeightsEstimated (or the defaults) that scored it; v1: the "
        "hand-set formula of the first matcher",
    )
    match_weight: float | None = Field(
        default=None, description="log2 likelihood ratio of the pair, prior included"
    )


_V1_REASONS = {
    "name": ("similar names", "noms semblables"),
    "sex": ("same sex", "même sexe"),
    "age": ("ages close", "âges proches"),
    "commune": ("same commune", "même commune"),
}


@upcaster("intake", "DuplicateSuggested", 1)
def _suggested_v1(data: dict[str, Any]) -> dict[str, Any]:
    """v1 had codes only: their plain words become the explanation; no comparison."""
    said = [_V1_REASONS[r] for r in data.get("reasons", []) if r in _V1_REASONS]
    en = "; ".join(s[0] for s in said)
    fr = " ; ".join(s[1] for s in said)
    return {
        **data,
        "explanation_en": en[:1].upper() + en[1:],
        "explanation_fr": fr[:1].upper() + fr[1:],
        "comparison": {},
        "weights_id": "v1",
        "match_weight": None,
    }


@event_type(
    context="intake",
    aggregate="matcher",
    en="The duplicate matcher's weights were estimated from the suggestions people confirmed "
    "and rejected; suggestions from now on name these weights.",
    fr="Les pondérations du rapprochement des doublons ont été estimées à partir des "
    "suggestions confirmées et rejetées ; les suggestions suivantes les citent.",
)
class MatchWeightsEstimated(DomainEvent):
    weights_id: str
    levels: dict[str, dict[str, list[float]]] = Field(
        description="field -> level -> [m, u]: how often one child (m) and two look-alike "
        "children (u) show that level"
    )
    prior: float = Field(gt=0, lt=1)
    threshold: float = Field(gt=0, lt=1)
    confirmed: int = Field(ge=0, description="Confirmed suggestions they were estimated from")
    rejected: int = Field(ge=0, description="Rejected suggestions they were estimated from")
    estimated_at: str


@event_type(
    context="intake",
    aggregate="child",
    en="A person confirmed that two child records are the same child: they are linked.",
    fr="Une personne a confirmé que deux fiches désignent le même enfant : elles sont liées.",
)
class DuplicateConfirmed(DomainEvent):
    sensitive_fields = frozenset({"note"})

    child_id: str
    candidate_id: str
    note: str | None = None


@event_type(
    context="intake",
    aggregate="child",
    en="A person rejected a suggested duplicate: the two records are different children.",
    fr="Une personne a rejeté un doublon suggéré : les deux fiches sont des enfants distincts.",
)
class DuplicateRejected(DomainEvent):
    sensitive_fields = frozenset({"note"})

    child_id: str
    candidate_id: str
    note: str | None = None


@event_type(
    context="intake",
    aggregate="child",
    en="A child record was corrected: the changed fields, their new values and the reason "
    "(the original record stays in the log).",
    fr="Une fiche enfant a été corrigée : les champs modifiés, leurs nouvelles valeurs et le "
    "motif (la fiche d'origine reste dans le journal).",
)
class ChildDetailsCorrected(DomainEvent):
    sensitive_fields = frozenset({"changes", "reason"})

    child_id: str
    fields: list[str] = Field(min_length=1)
    changes: dict[str, Any] = Field(description="New values of the ReportedChild fields")
    reason: str


@event_type(
    context="intake",
    aggregate="child",
    en="Intake could not apply a correction of the child record a case worker sent from the "
    "case (it changes nothing, or its values are not valid): the reason, in French and "
    "English. The record is unchanged.",
    fr="L'accueil n'a pas pu appliquer une correction de la fiche enfant envoyée depuis le "
    "dossier par un intervenant (elle ne change rien, ou ses valeurs ne sont pas valides) : "
    "le motif, en français et en anglais. La fiche reste inchangée.",
)
class ChildCorrectionRefused(DomainEvent):
    # No value of the request: the asker has them, and the refusal travels to the feed.
    child_id: str
    request_id: str = Field(description="The id of casework's ChildDetailsReported event")
    case_id: str
    code: str = Field(description="Machine-readable reason, e.g. nothing_changed")
    reason_en: str
    reason_fr: str


# -- complaints (recourse) ---------------------------------------------------------------------


@event_type(
    context="intake",
    aggregate="complaint",
    en="A complaint about how an actor treated a child was filed for the oversight body.",
    fr="Une plainte sur la façon dont un intervenant a traité un enfant a été déposée auprès "
    "de l'organe de contrôle.",
)
class ComplaintFiled(DomainEvent):
    sensitive_fields = frozenset({"account", "child_id"})

    complaint_id: str
    about_user: str
    about_agency: str
    child_id: str | None = None
    complainant: str = Field(description="child, family, other, anonymous")
    account: str = Field(description="What happened, in the complainant's words")
    filed_by_agency: str
    tracking_hash: str | None = Field(
        default=None,
        description="SHA-256 of the tracking code given to a complainant who filed through "
        "the public complaint desk (the code itself is never stored)",
    )


@event_type(
    context="intake",
    aggregate="complaint",
    en="The oversight body acknowledged a complaint and is dealing with it.",
    fr="L'organe de contrôle a accusé réception d'une plainte et la traite.",
)
class ComplaintAcknowledged(DomainEvent):
    sensitive_fields = frozenset({"note"})

    complaint_id: str
    note: str | None = None


@event_type(
    context="intake",
    aggregate="complaint",
    en="The oversight body closed a complaint: upheld or not, and the outcome.",
    fr="L'organe de contrôle a clos une plainte : fondée ou non, et la suite donnée.",
)
class ComplaintResolved(DomainEvent):
    sensitive_fields = frozenset({"outcome"})

    complaint_id: str
    upheld: bool
    outcome: str = Field(description="What was found and done, for the complainant")
