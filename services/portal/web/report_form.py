"""The "new report" form read into intake's request body, with the portal's own first checks
(the few required inputs) so the most common slips are named before anything is sent. What
the form cannot know (codes, dates, one age per child) intake checks, and its reasons come
back beside the same fields."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from services.portal.web import places
from services.portal.web.i18n import _

CHILD_FIELD = re.compile(r"^children\.(\d{1,2})\.")
MAX_CHILDREN = 20
CHILD_TEXT = ("name", "alias", "whereabouts")
FORM_FIELDS = (
    "channel",
    "received_at",
    "commune",
    "concerns",
    "immediate_danger",
    "urgency",
    "narrative",
    "alleged_perpetrator",
    "reporter.anonymous",
    "reporter.name",
    "reporter.relation",
    "reporter.contact",
    "reporter",
    "children",
)
CHILD_FIELDS = (
    "name",
    "alias",
    "sex",
    "age_years",
    "date_of_birth",
    "unidentified",
    "age_range.min",
    "age_range.max",
    "age_range",
    "school_status",
    "documented",
    "vulnerabilities",
    "whereabouts",
)


@dataclass
class Read:
    body: dict[str, Any]
    errors: dict[str, str] = field(default_factory=dict)


def child_indexes(values: dict[str, list[str]]) -> list[int]:
    found = {int(m.group(1)) for key in values if (m := CHILD_FIELD.match(key))}
    return sorted(found)[:MAX_CHILDREN] or [0]


def form_fields(values: dict[str, list[str]]) -> list[str]:
    """Every name a service error may be shown beside."""
    names = list(FORM_FIELDS)
    for i in child_indexes(values):
        names.append(f"children.{i}")
        names.extend(f"children.{i}.{f}" for f in CHILD_FIELDS)
    return names


def _first(values: dict[str, list[str]], name: str) -> str:
    found = [v.strip() for v in values.get(name, []) if v.strip()]
    return found[0] if found else ""


def _int(text: str) -> int | str:
    return int(text) if text.isdigit() else text  # a non-number goes on for intake to refuse


def local_moment(text: str, zone: ZoneInfo) -> str | None:
    """A ``datetime-local`` value, read in the country's time zone."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.isoformat()


def read_child(values: dict[str, list[str]], i: int) -> dict[str, Any] | None:
    p = f"children.{i}."
    child: dict[str, Any] = {}
    for name in CHILD_TEXT:
        if text := _first(values, p + name):
            child[name] = text
    unidentified = _first(values, p + "unidentified") == "1"
    sex = _first(values, p + "sex")
    age = _first(values, p + "age_years")
    born = _first(values, p + "date_of_birth")
    low, high = _first(values, p + "age_range.min"), _first(values, p + "age_range.max")
    school = _first(values, p + "school_status")
    documented = _first(values, p + "documented")
    vulnerabilities = values.get(p + "vulnerabilities", [])
    described = child or unidentified or age or born or low or high or vulnerabilities
    if not described and sex in ("", "unknown") and not school and not documented:
        return None
    if unidentified:
        child["unidentified"] = True
    if sex:
        child["sex"] = sex
    if age:
        child["age_years"] = _int(age)
    if born:
        child["date_of_birth"] = born
    if low or high:
        child["age_range"] = {"min": _int(low or high), "max": _int(high or low)}
    if school:
        child["school_status"] = school
    if documented in ("yes", "no"):
        child["documented"] = documented == "yes"
    if vulnerabilities:
        child["vulnerabilities"] = [v for v in vulnerabilities if v]
    return child


def read_report(values: dict[str, list[str]], zone: ZoneInfo) -> Read:
    out = Read({})
    body, errors = out.body, out.errors
    channel = _first(values, "channel")
    if channel:
        body["channel"] = channel
    else:
        errors["channel"] = _("Choose how the report came in.")
    received = _first(values, "received_at")
    moment = local_moment(received, zone) if received else None
    if moment:
        body["received_at"] = moment
    else:
        errors["received_at"] = _("Give the date and time the report came in.")
    commune_text = _first(values, "commune")
    commune = places.resolve(commune_text)
    if commune:
        body["commune"] = commune
    elif commune_text:
        errors["commune"] = _(
            "No commune has this name: choose one from the list, or 'Unknown commune'."
        )
    else:
        errors["commune"] = _("Give the commune where the child is (or 'Unknown commune').")
    concerns = [c for c in values.get("concerns", []) if c]
    if concerns:
        body["concerns"] = concerns
    else:
        errors["concerns"] = _("Choose at least one concern.")
    children = []
    for i in child_indexes(values):
        child = read_child(values, i)
        if child is None:
            continue
        if not (child.get("name") or child.get("alias") or child.get("unidentified")):
            errors[f"children.{i}.name"] = _(
                "Give the child's name or nickname, or tick 'The child is not identified'."
            )
        children.append(child)
    if not children:
        errors["children.0.name"] = _(
            "Describe at least one child: a name, or 'The child is not identified' with an "
            "age range."
        )
    body["children"] = children
    if _first(values, "immediate_danger") == "1":
        body["immediate_danger"] = True
    for name in ("urgency", "narrative", "alleged_perpetrator"):
        if text := _first(values, name):
            body[name] = text
    reporter: dict[str, Any] = {}
    if _first(values, "reporter.anonymous") == "1":
        reporter["anonymous"] = True
    for name in ("name", "relation", "contact"):
        if text := _first(values, f"reporter.{name}"):
            reporter[name] = text
    if reporter:
        body["reporter"] = reporter
    return out


def renamed_paths(values: dict[str, list[str]]) -> dict[str, str]:
    """Intake numbers the children it was sent; the form may have skipped empty ones."""
    sent = [i for i in child_indexes(values) if read_child(values, i) is not None]
    return {f"children.{n}": f"children.{i}" for n, i in enumerate(sent)}
