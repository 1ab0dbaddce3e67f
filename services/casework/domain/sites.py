"""Which site answers an accepted report (decisions 0029 and 0030): pure, so the case
opener's listing (SQL) and its reaction (Python) can be held to one rule."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OpenCaseSite:
    """Where the child's open case is kept, as the read model shows it."""

    site: str  # the site whose subjects hold the case now
    released_to: str | None = None  # released to that site, not yet taken over by it


def answering_site(report_site: str, open_case: OpenCaseSite | None) -> str:
    """The site that turns an accepted report for a child into a case event.

    Only the site owning an aggregate may append to it, so a report for a child whose case is
    open is the case owner's to attach, wherever it was screened; a released case is the
    receiver's (the releasing site may change it no more). Without an open case the report's
    own site opens one, so no two sites open a case for the same report."""
    if open_case is None:
        return report_site
    return open_case.released_to or open_case.site


def may_attach_here(open_case: OpenCaseSite, here: str) -> bool:
    """Whether this site can append to the open case now: it keeps it, and has not released
    it (a case released to this site is attached once the take-over is projected)."""
    return open_case.site == here and open_case.released_to is None
