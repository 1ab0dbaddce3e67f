"""The case page from casework's answers, without I/O: a timeline of what happened in plain
words (who, when), the next step the stage calls for, and how each form of the page becomes a
request to casework."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from services.portal.web import choices
from services.portal.web.i18n import _, day, label

Names = Mapping[str, str]


@dataclass(frozen=True)
class Entry:
    at: str
    who: str
    text: str


def _who(names: Names, user: object) -> str:
    if not user:
        return ""
    text = str(user)
    if text.startswith("system:"):
        return _("Relais")
    return names.get(text, text[:8] if len(text) > 20 else text)


def _views(item: Mapping[str, Any]) -> str:
    if item.get("child_views"):
        return _("the child's views are recorded")
    reason = dict(choices.not_heard_reasons()).get(str(item.get("views_not_heard_reason")), "")
    return _("the child could not be heard: %(why)s", why=reason) if reason else ""


def timeline(
    case: Mapping[str, Any], notes: Sequence[Mapping[str, Any]], names: Names
) -> list[Entry]:
    """Everything the case shows that happened, newest first."""
    found: list[Entry] = []
    opened = (
        _("Case opened for a child found by a worker")
        if case.get("opened_directly")
        else _("Case opened from an accepted report")
    )
    found.append(Entry(str(case.get("opened_at") or ""), "", opened))
    for r in case.get("reports", []):
        found.append(Entry(str(r.get("received_at") or ""), "", _("Report received")))
    for a in case.get("assignments", []):
        text = _(
            "Assigned to %(worker)s, supervised by %(supervisor)s",
            worker=_who(names, a.get("worker_id")),
            supervisor=_who(names, a.get("supervisor_id")),
        )
        if a.get("missing_competencies"):
            text += " " + _("(competency requirement overridden)")
        found.append(Entry(str(a.get("at", "")), _who(names, a.get("by")), text))
    for a in case.get("assessments", []):
        kind = dict(choices.assessment_kinds()).get(str(a.get("kind")), str(a.get("kind")))
        text = _(
            "%(kind)s recorded: risk %(risk)s", kind=kind, risk=choices.risk(a.get("risk_level"))
        )
        if views := _views(a):
            text += "; " + views
        found.append(Entry(str(a.get("at", "")), _who(names, a.get("by")), text))
    for d in case.get("determinations", []):
        kind = dict(choices.decision_kinds()).get(str(d.get("decision_kind")), "")
        text = _("Best-interests determination: %(kind)s", kind=kind)
        if views := _views(d):
            text += "; " + views
        found.append(Entry(str(d.get("at", "")), _who(names, d.get("by")), text))
    for g in case.get("goals", []):
        found.append(
            Entry(
                str(g.get("at", "")),
                _who(names, g.get("by")),
                _("Goal added to the plan: %(text)s", text=g.get("text", "")),
            )
        )
    for s in case.get("services", []):
        text = _(
            "Service delivered: %(kind)s on %(day)s",
            kind=label("service_kinds", s.get("service_kind")),
            day=day(s.get("delivered_on")),
        )
        found.append(Entry(str(s.get("at", "")), _who(names, s.get("by")), text))
    for v in case.get("visits", []):
        seen = _("child seen") if v.get("child_seen") else _("child not seen")
        text = _("Follow-up visit on %(day)s: %(seen)s", day=day(v.get("visited_on")), seen=seen)
        found.append(Entry(str(v.get("at", "")), _who(names, v.get("by")), text))
    for t in case.get("transfers", []):
        text = _(
            "Transfer to %(agency)s asked: %(status)s",
            agency=t.get("to_agency", ""),
            status=t.get("status", ""),
        )
        found.append(Entry(str(t.get("at", "")), _who(names, t.get("by")), text))
    for c in case.get("child_corrections", []):
        text = _(
            "Correction of the child's details sent to intake: %(fields)s",
            fields=", ".join(c.get("fields") or []),
        )
        found.append(Entry(str(c.get("at") or ""), "", text))
    for n in notes:
        text = _("Note added (%(level)s)", level=choices.sensitivity(n.get("sensitivity")))
        found.append(Entry(str(n.get("written_at") or ""), _who(names, n.get("author")), text))
    if case.get("closed_at"):
        found.append(
            Entry(
                str(case["closed_at"]),
                "",
                _(
                    "Case closed: %(reason)s",
                    reason=label("closure_reasons", case.get("closure_reason")),
                ),
            )
        )
    return sorted(found, key=lambda e: e.at, reverse=True)


# -- the next step ---------------------------------------------------------------------------

STAGE_ORDER = (
    "registration",
    "initial_assessment",
    "comprehensive_assessment",
    "best_interests",
    "case_plan",
    "implementation",
    "follow_up",
)


@dataclass(frozen=True)
class Step:
    form: str  # which form of the page to show first ("" for none)
    text: str
    to_stage: str = ""  # for form "stage": the stage to move to
    also: str = ""  # a second stage the case may move to instead


def _has(case: Mapping[str, Any], key: str, **match: str) -> bool:
    return any(all(item.get(k) == v for k, v in match.items()) for item in case.get(key, []))


def next_step(case: Mapping[str, Any]) -> Step:
    status, stage = case.get("status"), case.get("stage")
    if status == "closed":
        return Step("", _("The case is closed."))
    if status == "closure_requested":
        return Step("", _("Closure is requested: a supervisor decides."))
    if not case.get("worker_id"):
        return Step("assignment", _("Assign a case worker and a supervisor."))
    if stage == "registration":
        return Step("stage", _("Start the initial assessment."), "initial_assessment")
    if stage == "initial_assessment":
        if not _has(case, "assessments", kind="initial"):
            return Step("assessment", _("Record the initial assessment, with the child's views."))
        return Step(
            "stage", _("Move on to the comprehensive assessment."), "comprehensive_assessment"
        )
    if stage == "comprehensive_assessment":
        if not _has(case, "assessments", kind="comprehensive"):
            return Step(
                "assessment", _("Record the comprehensive assessment, with the child's views.")
            )
        return Step(
            "stage",
            _("Determine the child's best interests, or go on to the plan."),
            "best_interests",
            also="case_plan",
        )
    if stage == "best_interests":
        if not case.get("determinations"):
            return Step("best_interests", _("Record the best-interests determination."))
        return Step("stage", _("Go on to the case plan."), "case_plan")
    if stage == "case_plan":
        goals = case.get("goals", [])
        if not goals:
            return Step("goal", _("Add the first goal of the case plan."))
        if not any(g.get("actions") for g in goals):
            return Step("action", _("Add an action to a goal: who does what, by when."))
        return Step("stage", _("Start carrying out the plan."), "implementation")
    if stage == "implementation":
        return Step(
            "service",
            _("Record the services delivered; when done, go on to follow-up."),
            "follow_up",
        )
    return Step("visit", _("Record follow-up visits; when the goals are met, ask to close."))


# -- forms: from the page to casework ---------------------------------------------------------


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.replace(",", "\n").splitlines() if line.strip()]


def _views_of(get: Callable[[str], str], body: dict[str, Any]) -> None:
    if views := get("child_views"):
        body["child_views"] = views
    if reason := get("views_not_heard_reason"):
        body["views_not_heard_reason"] = reason
    if detail := get("views_not_heard_detail"):
        body["views_not_heard_detail"] = detail


def _drop_empty(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if v not in ("", None)}


@dataclass(frozen=True)
class CaseForm:
    path: str  # casework's route under /cases/{id}
    fields: tuple[str, ...]
    body: Callable[[Callable[[str], str]], dict[str, Any]]


def _assessment(get: Callable[[str], str]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": get("kind"),
        "risk_level": get("risk_level"),
        "needs": _lines(get("needs")),
        "summary": get("summary"),
    }
    _views_of(get, body)
    return _drop_empty(body) | {"needs": body["needs"]}


def _best_interests(get: Callable[[str], str]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "decision_kind": get("decision_kind"),
        "decision": get("decision"),
        "options_considered": _lines(get("options_considered")),
        "participants": _lines(get("participants")),
    }
    _views_of(get, body)
    return body


def _visit(get: Callable[[str], str]) -> dict[str, Any]:
    seen = get("child_seen")
    return _drop_empty(
        {
            "visited_on": get("visited_on"),
            "child_seen": {"yes": True, "no": False}.get(seen, seen),
            "risk_level": get("risk_level"),
            "findings": get("findings"),
            "next_visit_due": get("next_visit_due"),
        }
    )


CASE_FORMS: dict[str, CaseForm] = {
    "assignment": CaseForm(
        "assignment",
        ("worker_id", "supervisor_id", "override_reason"),
        lambda get: _drop_empty(
            {
                "worker_id": get("worker_id"),
                "supervisor_id": get("supervisor_id"),
                "override_reason": get("override_reason"),
            }
        ),
    ),
    "stage": CaseForm("stage", ("to",), lambda get: {"to": get("to")}),
    "assessment": CaseForm(
        "assessments",
        (
            "kind",
            "risk_level",
            "needs",
            "summary",
            "child_views",
            "views_not_heard_reason",
            "views_not_heard_detail",
        ),
        _assessment,
    ),
    "best_interests": CaseForm(
        "best-interests",
        (
            "decision_kind",
            "decision",
            "options_considered",
            "participants",
            "child_views",
            "views_not_heard_reason",
            "views_not_heard_detail",
        ),
        _best_interests,
    ),
    "goal": CaseForm("plan/goals", ("text",), lambda get: {"text": get("text")}),
    "action": CaseForm(
        "plan/actions",
        ("goal_id", "text", "responsible_agency", "responsible_unit", "service_kind", "due_on"),
        lambda get: _drop_empty(
            {
                "goal_id": get("goal_id"),
                "text": get("text"),
                "responsible_agency": get("responsible_agency"),
                "responsible_unit": get("responsible_unit"),
                "service_kind": get("service_kind"),
                "due_on": get("due_on"),
            }
        ),
    ),
    "service": CaseForm(
        "services",
        ("service_kind", "delivered_on", "note"),
        lambda get: _drop_empty(
            {
                "service_kind": get("service_kind"),
                "delivered_on": get("delivered_on"),
                "note": get("note"),
            }
        ),
    ),
    "visit": CaseForm(
        "visits",
        ("visited_on", "child_seen", "risk_level", "findings", "next_visit_due"),
        _visit,
    ),
    "note": CaseForm(
        "notes",
        ("sensitivity", "text"),
        lambda get: {"sensitivity": get("sensitivity"), "text": get("text")},
    ),
    "closure": CaseForm(
        "closure",
        ("reason", "note"),
        lambda get: _drop_empty({"reason": get("reason"), "note": get("note")}),
    ),
    # Moving the case to another site (decision 0030): a supervisor's, confirmed on the form.
    "site_transfer": CaseForm(
        "site-transfer",
        ("to_site", "reason"),
        lambda get: {"to_site": get("to_site").strip().lower(), "reason": get("reason")},
    ),
}
