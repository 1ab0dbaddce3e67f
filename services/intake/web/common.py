"""Small pieces every intake route uses: the runtime, the id pattern, and the one answer for
a record that does not exist or is not the caller's to see."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from contracts.intake import DuplicateSuggested
from shared.http import ApiError
from shared.i18n import Message
from shared.service import Runtime

ID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
NOT_FOUND = Message(en="Not found.", fr="Introuvable.")


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def not_found() -> ApiError:
    # The same answer whether the record does not exist or belongs to another agency.
    return ApiError(404, "not_found", NOT_FOUND)


def suggestion_view(s: DuplicateSuggested) -> dict[str, Any]:
    """A suggested duplicate as answers show it: why, in both languages, and which weights
    scored it."""
    return {
        "candidate_id": s.candidate_id,
        "score": s.score,
        "reasons": s.reasons,
        "explanation": {"en": s.explanation_en, "fr": s.explanation_fr},
        "weights_id": s.weights_id,
    }
