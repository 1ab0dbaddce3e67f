"""A form as it comes back to the person: the values typed (all of them, so nothing is lost),
the reasons per field (the portal's own checks and the service's, in the person's language),
the idempotency key of this rendering, and a notice (saved, saved but still arriving,
changed by someone else)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from starlette.datastructures import FormData

from services.portal.app.api import Answer
from services.portal.web.i18n import _
from shared.ids import new_id


def _as_lists(values: FormData | Mapping[str, object] | None) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    if values is None:
        return found
    items: Iterable[tuple[str, object]]
    items = values.multi_items() if isinstance(values, FormData) else values.items()
    for key, value in items:
        if isinstance(value, list | tuple):
            found.setdefault(key, []).extend(str(v) for v in value)
        elif value is not None and not hasattr(value, "read"):
            found.setdefault(key, []).append(str(value))
    return found


@dataclass
class FormState:
    values_by_name: dict[str, list[str]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    general: list[str] = field(default_factory=list)
    idem: str = field(default_factory=new_id)
    notice: str = ""
    notice_kind: str = "info"
    # Several forms on one page (the case page) keep their fields' ids apart.
    scope: str = ""

    def id(self, name: str) -> str:
        return f"f-{self.scope}{name.replace('.', '-')}"

    @classmethod
    def of(
        cls, values: FormData | Mapping[str, object] | None = None, *, idem: str = ""
    ) -> FormState:
        return cls(_as_lists(values), idem=idem or new_id())

    def value(self, name: str) -> str:
        found = self.values_by_name.get(name)
        return found[0] if found else ""

    def values(self, name: str) -> list[str]:
        return self.values_by_name.get(name, [])

    def error(self, name: str) -> str:
        return self.errors.get(name, "")

    def add(self, name: str, reason: str) -> None:
        self.errors.setdefault(name, reason)

    @property
    def has_errors(self) -> bool:
        return bool(self.errors or self.general)

    @property
    def error_list(self) -> list[tuple[str, str]]:
        return [(name, text) for name, text in self.errors.items()] + [
            ("", text) for text in self.general
        ]

    def refused(self, answer: Answer, fields: Iterable[str], renamed: Mapping[str, str]) -> None:
        """Put a service's refusal beside the fields it names: ``fields`` are the form's own
        names (the request's paths), ``renamed`` maps other paths of the request to them."""
        known = set(fields)
        per_field = answer.field_errors()
        for path, reason in per_field.items():
            name = _renamed(path, renamed)
            if name in known:
                self.add(name, reason)
            else:
                # The closest field the form has (children.0.age_range.min -> children.0).
                parent = name
                while "." in parent and parent not in known:
                    parent = parent.rsplit(".", 1)[0]
                if parent in known:
                    self.add(parent, reason)
                else:
                    self.general.append(reason)
        if not per_field:
            self.general.append(answer.message or _("The service refused this request."))

    def unreachable(self, answer: Answer) -> None:
        if answer.retry_after:
            self.general.append(
                _(
                    "Not saved: the system could not store it right now. Try again in "
                    "%(s)s seconds; what you typed is kept.",
                    s=answer.retry_after,
                )
            )
        else:
            self.general.append(
                _(
                    "Not saved: the system could not store it right now. Try again in a "
                    "moment; what you typed is kept."
                )
            )


def _renamed(path: str, renamed: Mapping[str, str]) -> str:
    for before, after in renamed.items():
        if path == before or path.startswith(before + "."):
            return after + path[len(before) :]
    return path
