"""What every route of the referral service does the same way: the runtime, the
idempotency key, refusals in both languages, paging."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Header, Query, Request

from shared.http import ApiError
from shared.i18n import Message
from shared.service import Runtime

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=200,
        description="Send the same key to retry a write safely: it is recorded only once.",
    ),
]
Page = Annotated[int, Query(ge=1, le=10_000)]
PageSize = Annotated[int, Query(ge=1, le=100)]


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def not_found(what_en: str, what_fr: str) -> ApiError:
    return ApiError(
        404, "not_found", Message(en=f"No such {what_en}.", fr=f"{what_fr} introuvable.")
    )


def paged(items: list[dict[str, Any]], total: int, page: int, size: int) -> dict[str, Any]:
    return {"items": items, "total": total, "page": page, "page_size": size}
