"""What every route of the referral service does the same way: the runtime, the
idempotency key, refusals in both languages, paging."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header, Query, Request

from services.referral.config import ReferralConfig
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


def get_config(request: Request) -> ReferralConfig:
    """A FastAPI dependency: the referral settings of the runtime (tests override it, with
    ``app.dependency_overrides``, to give their own clock)."""
    return ReferralConfig.from_settings(request.app.state.runtime.settings)


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def not_found(what_en: str, what_fr: str) -> ApiError:
    return ApiError(
        404, "not_found", Message(en=f"No such {what_en}.", fr=f"{what_fr} introuvable.")
    )
