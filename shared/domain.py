"""What every service's pure domain raises when the rules refuse a command."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NoReturn

from shared.i18n import Message


class DomainError(Exception):
    """A refused command: a stable code, the reason in French and English, and the HTTP
    status the API answers with (409 by default: not possible in the current state)."""

    def __init__(
        self,
        code: str,
        message: Message,
        *,
        status: int = 409,
        field: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(code)  # the code only: exception text must never carry child data
        self.code = code
        self.message = message
        self.status = status
        self.field = field
        self.extra = dict(extra or {})


def refuse(code: str, en: str, fr: str, *, status: int = 409, field: str | None = None) -> NoReturn:
    raise DomainError(code, Message(en=en, fr=fr), status=status, field=field)
