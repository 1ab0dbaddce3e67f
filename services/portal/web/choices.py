"""The options of the portal's lists, in the current language: reference codes with their
labels, and the few lists of the services' own (decisions, stages, reasons)."""

from __future__ import annotations

from services.portal.web.i18n import _, label
from shared.reference import codes


def coded(kind: str) -> list[tuple[str, str]]:
    return [(code, label(kind, code)) for code in getattr(codes(), kind)]


def concerns() -> list[tuple[str, str]]:
    return coded("concerns")


def school_statuses() -> list[tuple[str, str]]:
    return [
        ("enrolled", _("Goes to school")),
        ("out_of_school", _("Dropped out of school")),
        ("never_schooled", _("Never went to school")),
        ("unknown", _("Not known")),
    ]


def yes_no() -> list[tuple[str, str]]:
    return [("yes", _("Yes")), ("no", _("No"))]


def decisions() -> list[tuple[str, str]]:
    return [
        ("protection_concern", _("A protection concern: open a case")),
        ("more_information", _("More information needed first")),
        ("redirect", _("Not for us: redirect to another service")),
        ("not_a_concern", _("Not a protection concern")),
    ]


def report_status(code: str) -> str:
    return {
        "received": _("Waiting for screening"),
        "protection_concern": _("Protection concern"),
        "not_a_concern": _("Not a concern"),
        "redirect": _("Redirected"),
        "more_information": _("More information needed"),
    }.get(code, code)


def stage(code: str | None) -> str:
    return {
        "registration": _("Registration"),
        "initial_assessment": _("Initial assessment"),
        "comprehensive_assessment": _("Comprehensive assessment"),
        "best_interests": _("Best interests"),
        "case_plan": _("Case plan"),
        "implementation": _("Implementation"),
        "follow_up": _("Follow-up"),
        "closure": _("Closure"),
    }.get(code or "", code or "")


def risk_levels() -> list[tuple[str, str]]:
    return [("low", _("Low")), ("medium", _("Medium")), ("high", _("High"))]


def risk(code: str | None) -> str:
    return dict(risk_levels()).get(code or "", code or "")


def not_heard_reasons() -> list[tuple[str, str]]:
    return [
        ("age", _("Too young to give views")),
        ("capacity", _("Not able to express views")),
        ("safety", _("Hearing the child would put them at risk")),
        ("other", _("Another reason (explain)")),
    ]


def decision_kinds() -> list[tuple[str, str]]:
    return [
        ("placement", _("Placement")),
        ("return_to_family", _("Return to the family")),
        ("family_reunification", _("Family reunification")),
        ("judicial_measure", _("Judicial measure")),
        ("transfer", _("Transfer")),
        ("other", _("Another decision")),
    ]


def sensitivities() -> list[tuple[str, str]]:
    return [
        ("normal", _("Normal: everyone working on the case")),
        ("restricted", _("Restricted: the case worker, supervisors and you")),
        ("confidential", _("Confidential: the case's supervisor and you")),
    ]


def sensitivity(code: str | None) -> str:
    return {
        "normal": _("Normal"),
        "restricted": _("Restricted"),
        "confidential": _("Confidential"),
    }.get(code or "", code or "")


def assessment_kinds() -> list[tuple[str, str]]:
    return [("initial", _("Initial assessment")), ("comprehensive", _("Comprehensive assessment"))]


def case_status(code: str | None) -> str:
    return {
        "open": _("Open"),
        "closure_requested": _("Closure requested"),
        "closed": _("Closed"),
    }.get(code or "", code or "")
