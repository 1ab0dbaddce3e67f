"""What every route of the referral service does the same way: who is acting, the
idempotency key, the aggregate, refusals in both languages, paging."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Header, Query, Request
from pydantic import BaseModel, ConfigDict
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncEngine

from services.referral.queries import unit_row
from shared.auth import Principal
from shared.envelope import Actor, Aggregate
from shared.http import ApiError
from shared.i18n import Message
from shared.ids import derived_id
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
ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def actor(principal: Principal) -> Actor:
    return Actor(user=principal.user, agency=principal.agency, role=principal.primary_role)


def aggregate(runtime: Runtime, kind: str, ident: str) -> Aggregate:
    return Aggregate("referral", runtime.settings.site, kind, ident)


def replayed(runtime: Runtime, kind: str, ident: str, key: str | None, last: str | None) -> bool:
    """Was the last command on this aggregate this very request (a retry after success)?"""
    if not key or not last:
        return False
    return derived_id(aggregate(runtime, kind, ident).subject_filter, key, "0") == last


def invalid(field: str, en: str, fr: str, code: str = "invalid_value") -> ApiError:
    return ApiError(422, code, Message(en=en, fr=fr), field=field)


def not_found(what_en: str, what_fr: str) -> ApiError:
    return ApiError(
        404, "not_found", Message(en=f"No such {what_en}.", fr=f"{what_fr} introuvable.")
    )


def forbidden_row() -> ApiError:
    return ApiError(
        403,
        "forbidden",
        Message(
            en="This record belongs to another unit or agency.",
            fr="Ce dossier relève d'une autre unité ou structure.",
        ),
    )


async def wait_projected(runtime: Runtime, seq: int) -> None:
    """After a conflict, let the read model reach the winner's event before deciding again."""
    for projector in runtime.projectors:
        if projector.stream == "REFERRAL":
            await projector.wait_for(seq, runtime.settings.read_your_writes_timeout_s)


def paged(items: list[dict[str, Any]], total: int, page: int, size: int) -> dict[str, Any]:
    return {"items": items, "total": total, "page": page, "page_size": size}


async def known_unit(engine: AsyncEngine, unit_id: str, field: str) -> Row[Any]:
    """The unit's row, or a 422 on ``field`` saying the unit is unknown."""
    row = await unit_row(engine, unit_id)
    if row is None:
        raise invalid(field, "Unknown unit.", "Unité inconnue.", "unknown_unit")
    return row
