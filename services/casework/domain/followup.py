"""Deciding the follow-up of a case: services delivered, visits (and the missed ones), notes
and who may read each note."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from contracts import casework as ev
from services.casework.domain.commands import (
    AddNote,
    DeliverService,
    FlagVisitOverdue,
    RecordVisit,
    ReportChildDetails,
)
from services.casework.domain.rules import Rules
from services.casework.domain.state import NOTE_SENSITIVITIES, RISK_LEVELS, CaseState
from shared.domain import refuse
from shared.events import DomainEvent


def deliver_service(state: CaseState, c: DeliverService, rules: Rules) -> list[DomainEvent]:
    if c.service_kind not in rules.service_kinds:
        refuse(
            "unknown_service_kind",
            "Unknown service kind.",
            "Type de service inconnu.",
            status=422,
            field="service_kind",
        )
    planned = None
    if c.action_id is not None:
        planned = state.planned.get(c.action_id)
        if planned is None:
            refuse(
                "unknown_action",
                "No such action in this case's plan.",
                "Action absente du plan de ce dossier.",
                status=422,
                field="action_id",
            )
    referral_id = c.referral_id
    if referral_id is not None:
        by_plan = {p.referral_id for p in state.planned.values()}
        if planned is not None and planned.referral_id != referral_id:
            refuse(
                "referral_not_of_action",
                "This referral does not carry out this plan action.",
                "Cette orientation ne réalise pas cette action du plan.",
                status=422,
                field="referral_id",
            )
        if referral_id not in c.known_referrals and referral_id not in by_plan:
            refuse(
                "unknown_referral",
                "No such referral for this case.",
                "Aucune orientation de ce type pour ce dossier.",
                status=422,
                field="referral_id",
            )
    # The service counts for the agency that delivered it: the action's, else the
    # referral's receiving agency, else the case's own.
    agency, unit = state.agency, c.unit
    if planned is not None:
        agency, unit = planned.responsible_agency, planned.responsible_unit
        referral_id = referral_id or planned.referral_id
    elif referral_id is not None:
        to_agency, to_unit = c.known_referrals.get(referral_id, (None, None))
        agency, unit = to_agency or state.agency, to_unit
    return [
        ev.ServiceDelivered(
            service_id=c.service_id,
            child_id=state.child_id,
            service_kind=c.service_kind,
            agency=agency,
            unit=unit,
            delivered_on=c.delivered_on.isoformat(),
            action_id=c.action_id,
            referral_id=referral_id,
            note=c.note,
        )
    ]


def record_visit(state: CaseState, c: RecordVisit) -> list[DomainEvent]:
    if c.risk_level is not None and c.risk_level not in RISK_LEVELS:
        refuse(
            "unknown_risk",
            "Unknown risk level.",
            "Niveau de risque inconnu.",
            status=422,
            field="risk_level",
        )
    if c.next_visit_due is not None and c.next_visit_due <= c.visited_on:
        refuse(
            "next_visit_not_after",
            "The next visit must be due after this one.",
            "La prochaine visite doit être prévue après celle-ci.",
            status=422,
            field="next_visit_due",
        )
    return [
        ev.FollowUpVisitRecorded(
            visit_id=c.visit_id,
            visited_on=c.visited_on.isoformat(),
            child_seen=c.child_seen,
            risk_level=c.risk_level,
            findings=c.findings,
            next_visit_due=c.next_visit_due.isoformat() if c.next_visit_due else None,
        )
    ]


def flag_visit_overdue(state: CaseState, c: FlagVisitOverdue) -> list[DomainEvent]:
    if state.status == "closed" or state.visit_overdue_flagged or state.next_visit_due is None:
        return []
    # Due on a day: the visit may still happen that day, so it is missed only the day after.
    if date.fromisoformat(state.next_visit_due) >= c.today:
        return []
    assert state.last_visit_id is not None
    return [ev.FollowUpVisitOverdue(visit_id=state.last_visit_id, due_on=state.next_visit_due)]


def add_note(state: CaseState, c: AddNote) -> list[DomainEvent]:
    if c.sensitivity not in NOTE_SENSITIVITIES:
        refuse(
            "unknown_sensitivity",
            "Unknown sensitivity; expected normal, restricted or confidential.",
            "Sensibilité inconnue ; valeurs possibles : normal, restricted, confidential.",
            status=422,
            field="sensitivity",
        )
    if not c.text.strip():
        refuse("empty_note", "The note is empty.", "La note est vide.", status=422, field="text")
    return [ev.CaseNoteAdded(note_id=c.note_id, sensitivity=c.sensitivity, text=c.text)]


def report_child_details(state: CaseState, c: ReportChildDetails) -> list[DomainEvent]:
    """What the worker learnt of the child goes to intake, which owns the child record; the
    case only says that it was sent."""
    if not c.changes:
        refuse(
            "nothing_to_correct",
            "Give at least one corrected field.",
            "Indiquez au moins un champ corrigé.",
            status=422,
            field="changes",
        )
    if not c.reason.strip():
        refuse(
            "reason_required",
            "Say why the child's details are corrected.",
            "Indiquez pourquoi les informations de l'enfant sont corrigées.",
            status=422,
            field="reason",
        )
    return [
        ev.ChildDetailsReported(
            case_id=state.case_id, child_id=state.child_id, changes=dict(c.changes), reason=c.reason
        )
    ]


@dataclass(frozen=True)
class NoteReader:
    """Someone who may read the case (already scoped to the owning agency, or an auditor)."""

    user: str
    auditor: bool = False
    supervisor: bool = False  # holds the supervisor role in the owning agency


def may_read_note(
    sensitivity: str,
    author: str,
    reader: NoteReader,
    *,
    worker_id: str | None,
    supervisor_id: str | None,
) -> bool:
    """Normal notes: every reader of the case. Restricted: the assigned worker, supervisors
    and the author. Confidential: the case's own supervisor and the author. Auditors: all."""
    if reader.auditor or reader.user == author or sensitivity == "normal":
        return True
    if sensitivity == "restricted":
        return reader.supervisor or reader.user in (worker_id, supervisor_id)
    return supervisor_id is not None and reader.user == supervisor_id
