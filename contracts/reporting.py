"""The reporting service's events: its public contract.

Reporting writes only the AUDIT stream (its NATS user may publish nowhere else), so its own
events live there, under the ``audit`` context, beside access records and signing keys."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.events import DomainEvent, event_type


class ReportItem(BaseModel):
    """One table of a periodic statistical report: an indicator, its breakdowns and filters."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    indicator: str
    by: list[str] = Field(default_factory=list, max_length=3)
    period: str | None = Field(
        default=None, description="Breakdown by day, month or quarter inside the report's period"
    )
    filters: dict[str, list[str]] = Field(default_factory=dict)


@event_type(
    context="audit",
    aggregate="statdefinition",
    en="A periodic statistical report was defined: its indicators, breakdowns, period and "
    "deadline.",
    fr="Un rapport statistique périodique a été défini : ses indicateurs, ventilations, "
    "périodicité et délai.",
)
class StatisticalReportDefined(DomainEvent):
    definition_id: str
    title_en: str = Field(max_length=300)
    title_fr: str = Field(max_length=300)
    items: list[ReportItem] = Field(min_length=1, max_length=20)
    period_kind: str = Field(description="month, quarter or year")
    due_days: int = Field(ge=0, le=366, description="Days after the period's end")
    first_period: str = Field(description="Key of the first period to publish, e.g. 2026-Q1")


@event_type(
    context="audit",
    aggregate="statreport",
    en="A periodic statistical report was published for a closed period, with its suppressed "
    "tables and whether it met its deadline.",
    fr="Un rapport statistique périodique a été publié pour une période close, avec ses "
    "tableaux protégés et le respect ou non de son délai.",
)
class StatisticalReportPublished(DomainEvent):
    report_id: str
    definition_id: str
    period: str = Field(description="The period's key, e.g. 2026-03, 2026-Q1, 2026")
    period_start: str = Field(description="First day (YYYY-MM-DD)")
    period_end: str = Field(description="Last day (YYYY-MM-DD)")
    published_at: str = Field(description="RFC 3339")
    due_at: str = Field(description="RFC 3339")
    within_deadline: bool
    # The tables as published: small cells already suppressed, so nothing here identifies a
    # child; kept in the log so that a publication is as tamper-evident as any other event.
    tables: list[dict[str, Any]]


@event_type(
    context="audit",
    aggregate="statdefinition",
    en="A periodic statistical report was retired: the reason, and the last period still owed "
    "(none once no period is owed).",
    fr="Un rapport statistique périodique a été retiré : le motif, et la dernière période "
    "encore due (aucune si plus rien n'est dû).",
)
class StatisticalReportRetired(DomainEvent):
    # Free text typed by an administrator: kept out of logs and feeds like every reason.
    sensitive_fields = frozenset({"reason"})

    definition_id: str
    reason: str = Field(min_length=1, max_length=1000)
    retired_at: str = Field(description="RFC 3339")
    last_period: str | None = Field(
        default=None,
        description="Key of the last period still published; none: no further period",
    )


class RevisionChange(BaseModel):
    """What a revision changed in one table: how many cells, never which child."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    table: int = Field(ge=0, description="Position of the table in the report")
    indicator: str
    changed_cells: int = Field(ge=0)


@event_type(
    context="audit",
    aggregate="statreport",
    en="A published statistical report was revised because events that arrived late changed "
    "its figures: the new suppressed tables and how many cells changed.",
    fr="Un rapport statistique publié a été révisé car des événements arrivés en retard en "
    "ont changé les chiffres : les nouveaux tableaux protégés et le nombre de cellules "
    "modifiées.",
)
class StatisticalReportRevised(DomainEvent):
    report_id: str
    definition_id: str
    period: str = Field(description="The period's key, e.g. 2026-03, 2026-Q1, 2026")
    revision: int = Field(ge=1, description="1 for the first revision, then 2, ...")
    revised_at: str = Field(description="RFC 3339")
    # As in the publication: suppressed, so nothing here identifies a child.
    tables: list[dict[str, Any]]
    changes: list[RevisionChange] = Field(default_factory=list)
