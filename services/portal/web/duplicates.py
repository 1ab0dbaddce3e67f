"""Two child records side by side: each detail of both, and whether they agree, so a screener
sees what made the records look alike before confirming or rejecting the suggestion."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from services.portal.web import places
from services.portal.web.i18n import _, day, label
from services.portal.web.places import fold


@dataclass(frozen=True)
class Row:
    name: str
    left: str
    right: str
    same: bool


def _names(details: dict[str, Any]) -> set[str]:
    words: set[str] = set()
    for key in ("name", "alias"):
        words |= set(fold(str(details.get(key) or "")).replace("-", " ").split())
    return words


def _age_span(details: dict[str, Any], on: date) -> tuple[int, int] | None:
    born = details.get("date_of_birth")
    if born:
        try:
            b = date.fromisoformat(str(born))
        except ValueError:
            return None
        age = on.year - b.year - ((on.month, on.day) < (b.month, b.day))
        return age, age
    if details.get("age_years") is not None:
        return int(details["age_years"]), int(details["age_years"])
    if details.get("age_min") is not None and details.get("age_max") is not None:
        return int(details["age_min"]), int(details["age_max"])
    return None


def _age_text(details: dict[str, Any]) -> str:
    if details.get("date_of_birth"):
        return _("born %(day)s", day=day(str(details["date_of_birth"])))
    if details.get("age_years") is not None:
        return _("%(n)s years", n=details["age_years"])
    if details.get("age_min") is not None:
        return _("%(low)s to %(high)s years", low=details["age_min"], high=details["age_max"])
    return ""


def compare(left: dict[str, Any], right: dict[str, Any], on: date) -> list[Row]:
    """``left`` and ``right`` are intake's child views (``details`` as they now read)."""
    a, b = left.get("details") or {}, right.get("details") or {}
    names_a, names_b = _names(a), _names(b)
    span_a, span_b = _age_span(a, on), _age_span(b, on)
    rows = [
        Row(
            _("Name"),
            " / ".join(str(a[k]) for k in ("name", "alias") if a.get(k)),
            " / ".join(str(b[k]) for k in ("name", "alias") if b.get(k)),
            bool(names_a & names_b),
        ),
        Row(
            _("Sex"),
            label("sexes", a.get("sex")),
            label("sexes", b.get("sex")),
            a.get("sex") == b.get("sex") and a.get("sex") not in (None, "unknown"),
        ),
        Row(
            _("Age"),
            _age_text(a),
            _age_text(b),
            bool(span_a and span_b and span_a[0] - 1 <= span_b[1] and span_b[0] - 1 <= span_a[1]),
        ),
        Row(
            _("Commune"),
            places.label_of(left.get("commune")),
            places.label_of(right.get("commune")),
            left.get("commune") == right.get("commune") and left.get("commune") != "unknown",
        ),
        Row(
            _("Where the child is now"),
            str(a.get("whereabouts") or ""),
            str(b.get("whereabouts") or ""),
            bool(a.get("whereabouts"))
            and fold(str(a.get("whereabouts"))) == fold(str(b.get("whereabouts") or "")),
        ),
        Row(
            _("First reported"),
            day(str(left.get("received_at") or "")),
            day(str(right.get("received_at") or "")),
            False,
        ),
    ]
    return rows


def matched(rows: list[Row]) -> list[str]:
    return [row.name for row in rows if row.same]
