"""Reporting's answers, so the OpenAPI document says what each route answers. An indicator's
and a published report's tables are documents built by the domain (``domain/answer.py``):
their top-level keys are declared here, each table as the domain writes it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class SuppressionOut(BaseModel):
    applied_for: str
    threshold: int
    exact_for_you: bool


class CatalogueOut(BaseModel):
    indicators: list[dict[str, Any]] = Field(description="Code, labels, measure, breakdowns")
    dimensions: list[dict[str, Any]] = Field(description="Code, labels and codes of each")
    periods: list[str]
    suppression: SuppressionOut


class IndicatorAnswerOut(BaseModel):
    """An indicator's answer as JSON (``format=csv`` or ``html`` answer a file or a page)."""

    model_config = ConfigDict(extra="allow")

    indicator: dict[str, Any] = Field(description="Code, labels, unit, measure")
    freshness: dict[str, Any] = Field(description="How far the facts had read each stream")


class DefinitionOut(BaseModel):
    definition_id: str
    title: dict[str, str] = Field(description="en, fr")
    items: list[dict[str, Any]]
    period_kind: str
    due_days: int
    first_period: str
    defined_at: str
    defined_by_agency: str | None
    status: str = Field(description="active or retired")
    retired_at: str | None
    retirement_reason: str | None
    last_period: str | None = Field(description="Once retired, the last period still owed")
    version: int = Field(description="Send it as If-Match to retire the report")


class PublicationOut(BaseModel):
    report_id: str
    definition_id: str
    period: str
    period_start: str
    period_end: str
    published_at: str
    due_at: str
    within_deadline: bool
    revision: int
    revised_at: str | None


class DefinitionWithPublicationsOut(DefinitionOut):
    publications: list[PublicationOut]


class DefinitionListOut(BaseModel):
    items: list[DefinitionWithPublicationsOut]


class RevisionOut(BaseModel):
    revision: int
    revised_at: str | None
    changes: Any


class PublishedReportOut(PublicationOut):
    """A published report as JSON (``format=csv`` or ``html`` answer a file or a page)."""

    definition: DefinitionOut
    tables: list[dict[str, Any]]
    revisions: list[RevisionOut]


class CaseHistoryOut(BaseModel):
    case_id: str
    as_of: str | None
    children: list[str]
    reports: list[str]
    referrals: list[str]
    events: list[dict[str, Any]]
    state: dict[str, Any]
    indexed_up_to: dict[str, Any]


class VerificationOut(BaseModel):
    verification_id: str
    status: str = Field(description="running, done or failed")
    started_at: str
    finished_at: str | None
    by: str
    streams_total: int
    streams_done: list[str]
    events_checked: int
    result: dict[str, Any] | None = Field(
        description="Once done: what `relais audit verify --json` reports (ok, events_checked, "
        "chains, streams, heads, anchors_checked, failures: the first 100, failures_total)"
    )


class AccessRecordOut(BaseModel):
    read_at: str
    user: str
    agency: str
    role: str
    service: str
    record_type: str
    record_id: str
    purpose: str | None
    outcome: str = Field(
        description="read, or refused: a request of a record the caller may not see (404)"
    )
    event_id: str
    seq: int


class AccessPageOut(BaseModel):
    items: list[AccessRecordOut]
    page: int
    page_size: int
    total: int
    next_page: int | None
    indexed_up_to: dict[str, Any]
