"""The facts every indicator is computed from, projected from INTAKE, REFERRAL and CASEWORK
into reporting's own tables.

Rules that shape these tables:

* **No cross-context joins at write time.** A fact is written from its own event alone (or
  from earlier events of the same stream, which always arrive first); facts of different
  streams are joined when a question is asked, by id, never by foreign key. A referral
  completed before casework's ``CaseOpened`` has been projected is still counted; its child's
  sex and age band simply show once the case arrives.
* **Pseudonymous ids only.** Children are counted by their ids; no name, birth date or
  narrative is stored. Ages are kept as the whole years known at the report's receipt (and
  the years a birth date gave then), which is what age bands need after a correction.
* **Upserts.** Each handler leaves the same rows whatever was there before, so a rebuild from
  the log equals the incremental state.

It is one projection, ``reporting.statistics``, whatever the number of modules: the tables
and the :class:`Projection` are in :mod:`.tables`, how an event's values become facts in
:mod:`.values`, and the handlers in one module per source stream. Those modules register
their handlers when imported, so importing this package (as the service wiring does) is what
makes the projection complete."""

from __future__ import annotations

from services.reporting.read.facts import (  # noqa: F401  (imported for their handlers)
    casework_handlers,
    intake_handlers,
    referral_handlers,
)
from services.reporting.read.facts.tables import (
    FACTS_NAME,
    agencies,
    assessments,
    case_changes,
    cases,
    child_links,
    metadata,
    projection,
    referrals,
    report_children,
    reports,
    services,
    staff,
    trainings,
    units,
)
from services.reporting.read.facts.values import (
    age_band,
    age_on,
    band_from,
    day_of,
    event_time,
    instant,
    sex_code,
)

__all__ = [
    "FACTS_NAME",
    "age_band",
    "age_on",
    "agencies",
    "assessments",
    "band_from",
    "case_changes",
    "cases",
    "child_links",
    "day_of",
    "event_time",
    "instant",
    "metadata",
    "projection",
    "referrals",
    "report_children",
    "reports",
    "services",
    "sex_code",
    "staff",
    "trainings",
    "units",
]
