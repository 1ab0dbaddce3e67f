"""The intake service's events: its public contract."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from shared.events import DomainEvent, event_type


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
