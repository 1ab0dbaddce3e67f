"""What referral's commands and policies share: the body models' base, where referral's
aggregates live, the caller as an actor, a retry recognised, waiting for the read model,
and refusals of a field in both languages."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncEngine

from services.referral.read.queries import unit_row
from shared.auth import Principal
from shared.envelope import Actor, Aggregate
from shared.eventstore import event_id
from shared.http import ApiError
from shared.i18n import Message
from shared.service import Runtime

ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def actor(principal: Principal) -> Actor:
    return Actor(user=principal.user, agency=principal.agency, role=principal.primary_role)


def aggregate(runtime: Runtime, kind: str, ident: str) -> Aggregate:
    return Aggregate("referral", runtime.settings.site, kind, ident)


# More events than any command of referral appends at once.
_MOST_EVENTS_OF_A_COMMAND = 8


def replayed(runtime: Runtime, kind: str, ident: str, key: str | None, last: str | None) -> bool:
    """Was the last command on this aggregate this very request (a retry after success)?
    ``last`` is the aggregate's last event id, which the key names if the command was it."""
    if not key or not last:
        return False
    agg = aggregate(runtime, kind, ident)
    return any(event_id(agg, key, i) == last for i in range(_MOST_EVENTS_OF_A_COMMAND))


def invalid(field: str, en: str, fr: str, code: str = "invalid_value") -> ApiError:
    return ApiError(422, code, Message(en=en, fr=fr), field=field)


async def wait_projected(runtime: Runtime, seq: int) -> None:
    """After a conflict, let the read model reach the winner's event before deciding again."""
    for projector in runtime.projectors:
        if projector.stream == "REFERRAL":
            await projector.wait_for(seq, runtime.settings.read_your_writes_timeout_s)


async def known_unit(engine: AsyncEngine, unit_id: str, field: str) -> Row[Any]:
    """The unit's row, or a 422 on ``field`` saying the unit is unknown."""
    row = await unit_row(engine, unit_id)
    if row is None:
        raise invalid(field, "Unknown unit.", "Unité inconnue.", "unknown_unit")
    return row
