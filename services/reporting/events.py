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
