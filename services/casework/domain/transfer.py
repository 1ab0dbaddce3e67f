"""Deciding transfers of responsibility between agencies: one pending at a time, answered only
by the receiving agency, withdrawn only by the owning one."""

from __future__ import annotations

from contracts import casework as ev
from services.casework.domain.commands import (
    AnswerTransfer,
    ReleaseToSite,
    RequestTransfer,
    WithdrawTransfer,
)
from services.casework.domain.state import CaseState, PendingTransfer
from shared.domain import refuse
from shared.events import DomainEvent


def refuse_if_pending(state: CaseState) -> None:
    if state.pending_transfer is not None:
        refuse(
            "transfer_pending",
            "A transfer of this case awaits the receiving agency's answer.",
            "Un transfert de ce dossier attend la réponse de la structure destinataire.",
        )


def request_transfer(state: CaseState, c: RequestTransfer) -> list[DomainEvent]:
    if c.to_agency == state.agency:
        refuse(
            "same_agency",
            "The case already belongs to this agency.",
            "Le dossier relève déjà de cette structure.",
            status=422,
            field="to_agency",
        )
    if c.to_agency_units is None:
        refuse(
            "unknown_agency",
            "This agency is not in the directory.",
            "Cette structure ne figure pas dans l'annuaire.",
            status=422,
            field="to_agency",
        )
    if c.to_unit is not None and c.to_unit not in c.to_agency_units:
        refuse(
            "unit_not_in_agency",
            "This unit does not belong to the receiving agency.",
            "Cette unité n'appartient pas à la structure destinataire.",
            status=422,
            field="to_unit",
        )
    if not c.reason.strip():
        refuse(
            "reason_required",
            "Say why the case should be transferred.",
            "Indiquez pourquoi le dossier doit être transféré.",
            status=422,
            field="reason",
        )
    refuse_if_pending(state)
    return [
        ev.TransferRequested(
            transfer_id=c.transfer_id,
            from_agency=state.agency,
            to_agency=c.to_agency,
            to_unit=c.to_unit,
            reason=c.reason,
        )
    ]


def _pending(state: CaseState, transfer_id: str) -> PendingTransfer:
    if transfer_id not in state.transfer_targets:
        refuse(
            "transfer_not_found",
            "No such transfer for this case.",
            "Aucun transfert de ce type pour ce dossier.",
            status=404,
        )
    pending = state.pending_transfer
    if pending is None or pending.transfer_id != transfer_id:
        refuse(
            "transfer_not_pending",
            "This transfer was already answered or withdrawn.",
            "Ce transfert a déjà reçu une réponse ou a été retiré.",
        )
    return pending


def answer_transfer(state: CaseState, c: AnswerTransfer) -> list[DomainEvent]:
    pending = _pending(state, c.transfer_id)
    if c.by_agency != pending.to_agency:
        refuse(
            "not_receiving_agency",
            "Only the receiving agency accepts or declines a transfer.",
            "Seule la structure destinataire accepte ou refuse un transfert.",
            status=403,
        )
    if c.accept:
        return [
            ev.TransferAccepted(
                transfer_id=pending.transfer_id,
                from_agency=state.agency,
                to_agency=pending.to_agency,
                to_unit=pending.to_unit,
                accepted_by=c.by,
            )
        ]
    reason = (c.reason or "").strip()
    if not reason:
        refuse(
            "reason_required",
            "Say why the transfer is declined.",
            "Indiquez pourquoi le transfert est refusé.",
            status=422,
            field="reason",
        )
    return [
        ev.TransferDeclined(
            transfer_id=pending.transfer_id, to_agency=pending.to_agency, reason=reason
        )
    ]


def withdraw_transfer(state: CaseState, c: WithdrawTransfer) -> list[DomainEvent]:
    pending = _pending(state, c.transfer_id)
    return [
        ev.TransferWithdrawn(
            transfer_id=pending.transfer_id, to_agency=pending.to_agency, reason=c.reason
        )
    ]


def _listed(known: frozenset[str], here: str, none: str = "none") -> str:
    return ", ".join(sorted(known - {here})) or none


def release_to_site(state: CaseState, c: ReleaseToSite) -> list[DomainEvent]:
    """Moving the case to another site's log (decision 0030): a supervisor names the site and
    says why; an agency transfer waiting for its answer must be settled first, where it was
    asked."""
    if not c.to_site.strip() or c.to_site == c.here:
        refuse(
            "same_site",
            "Name another site: the case is already kept at this one.",
            "Indiquez un autre site : le dossier est déjà tenu sur celui-ci.",
            status=422,
            field="to_site",
        )
    if c.to_site in state.former_sites:
        refuse(
            "former_site",
            f"Site {c.to_site} released this case before: it cannot take it back (its log "
            "already holds the case's earlier events).",
            f"Le site {c.to_site} a déjà cédé ce dossier : il ne peut pas le reprendre (son "
            "journal contient déjà les événements antérieurs du dossier).",
            status=422,
            field="to_site",
        )
    if c.to_site not in c.known:
        refuse(
            "unknown_site",
            f"Site {c.to_site} is not known here: name a site this one exchanges events with"
            f" ({_listed(c.known, c.here)}).",
            f"Le site {c.to_site} n'est pas connu ici : indiquez un site avec lequel celui-ci"
            f" échange ses événements ({_listed(c.known, c.here, 'aucun')}).",
            status=422,
            field="to_site",
        )
    if not c.reason.strip():
        refuse(
            "reason_required",
            "Say why the case moves to another site.",
            "Indiquez pourquoi le dossier change de site.",
            status=422,
            field="reason",
        )
    refuse_if_pending(state)
    return [ev.CaseReleasedToSite(to_site=c.to_site, reason=c.reason.strip())]
