"""Small pieces every intake route uses: the runtime, the id pattern, and the one answer for
a record that does not exist or is not the caller's to see."""

from __future__ import annotations

from fastapi import Request

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
