"""What referral's commands and routes share: the body models' base, the id pattern, a known
unit, and refusals of a field in both languages."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncEngine

from services.referral.read.queries import unit_row
from shared.http import ApiError
from shared.i18n import Message
from shared.validation import JsonBody

ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"


class Body(JsonBody):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def invalid(field: str, en: str, fr: str, code: str = "invalid_value") -> ApiError:
    return ApiError(422, code, Message(en=en, fr=fr), field=field)


async def known_unit(engine: AsyncEngine, unit_id: str, field: str) -> Row[Any]:
    """The unit's row, or a 422 on ``field`` saying the unit is unknown."""
    row = await unit_row(engine, unit_id)
    if row is None:
        raise invalid(field, "Unknown unit.", "Unité inconnue.", "unknown_unit")
    return row
