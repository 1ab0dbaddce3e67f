"""Agencies and units by their names: the one look-up the screens use instead of showing
codes. Names come from the referral service's directory (``GET /agencies``,
``GET /units/{id}``) with the signed-in user's token; a code the directory does not answer
for (unknown, or the service unreachable) is shown as it is, never as an error."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field

from fastapi import Request

from services.portal.web.calling import call
from services.portal.web.context import Viewer
from services.portal.web.routes_screening import valid_id


@dataclass(frozen=True)
class Names:
    agencies: dict[str, str] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)

    def agency(self, code: object) -> str:
        text = str(code or "")
        return self.agencies.get(text, text)

    def unit(self, code: object) -> str:
        text = str(code or "")
        return self.units.get(text, text)


def _codes(values: Iterable[object]) -> list[str]:
    return sorted({str(v) for v in values if v and valid_id(str(v))})


async def names_for(
    request: Request,
    viewer: Viewer,
    *,
    agencies: Iterable[object] = (),
    units: Iterable[object] = (),
) -> Names:
    """The names of these agencies and units (one directory page of agencies, one read per
    unit, all at once)."""
    agency_codes, unit_codes = _codes(agencies), _codes(units)
    calls = [call(request, viewer, "referral", "GET", f"/units/{u}") for u in unit_codes]
    if agency_codes:
        calls.append(
            call(request, viewer, "referral", "GET", "/agencies", params={"page_size": 100})
        )
    answers = await asyncio.gather(*calls)
    unit_names = {
        code: str(a.data.get("name") or code)
        for code, a in zip(unit_codes, answers, strict=False)
        if a.ok
    }
    agency_names: dict[str, str] = {}
    if agency_codes and answers[-1].ok:
        for row in answers[-1].data.get("items", []):
            if isinstance(row, dict) and row.get("agency_id") in agency_codes:
                agency_names[str(row["agency_id"])] = str(row.get("name") or row["agency_id"])
    return Names(agency_names, unit_names)
