"""A worker corrects the child's details from the case (decision 0006).

The worker who visits the child learns the real birth date, the right spelling of the name,
whether the child goes to school; intake owns the child record. So the case asks by an event,
``ChildDetailsReported``, and intake's child corrector applies it as its own
``ChildDetailsCorrected`` under the worker's name, or answers ``ChildCorrectionRefused`` with
its reason (an intake officer made the same change meanwhile, say). Casework keeps only that
a correction was sent, which fields, when and what became of it (``child_corrections`` of the
case, from ``read/child_correction_handlers.py``): never the values.

The same conventions as ``cases.py``: ``If-Match`` names the version the client saw,
``Idempotency-Key`` makes a retry store nothing new."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from contracts.casework import ChildDetailsReported
from services.casework import domain as d
from services.casework.web.cases import CaseId, append_command
from services.casework.web.permissions import require
from services.casework.web.schemas import ChildCorrectionBody
from shared.auth import Principal
from shared.i18n import Message, language, localise

router = APIRouter(prefix="/cases", tags=["cases"])

SENT = Message(
    en="The correction was sent to intake, which applies it to the child record.",
    fr="La correction a été transmise à l'accueil, qui l'applique à la fiche enfant.",
)


@router.post("/{case_id}/child-corrections", status_code=202)
async def correct_child(
    case_id: CaseId,
    body: ChildCorrectionBody,
    request: Request,
    principal: Annotated[Principal, Depends(require("child.correct"))],
) -> JSONResponse:
    """Correct the child's details (the fields of intake's correction body, with a reason).
    Accepted, not done: intake applies it to the child record in the background, under the
    caller's name, once the child record exists. The case's ``child_corrections`` then show
    it ``applied``, or ``refused`` with intake's reason; ``sent`` until intake answers."""
    changes = body.changes.changes()
    command = d.ReportChildDetails(changes=changes, reason=body.reason)
    result, version = await append_command(request, principal, case_id, command)
    assert result is not None  # the command always says something or is refused
    [sent] = result.events
    assert isinstance(sent.event, ChildDetailsReported)
    answer = {
        "case_id": case_id,
        "child_id": sent.event.child_id,
        "event_id": sent.id,
        "fields": sorted(changes),
        "version": version,
        "duplicate": result.duplicate,
        "message": localise(SENT, language(request.headers.get("accept-language"))),
    }
    return JSONResponse(answer, status_code=202, headers={"ETag": f'"{version}"'})
