"""Who sees which of intake's records (beyond the permission table, which says who may read
records at all):

* the agency that recorded a report or a child record, for its intake roles (hotline
  operators, intake officers, screeners, supervisors): what it recorded stays its own, even
  after the case went elsewhere;
* the agency that owns the case holding the record (``read/ownership.py``), for every role
  the table lets read it, case workers included: the child's identity follows the case, and
  leaves the previous owner with an accepted transfer;
* auditors: everything.

Anyone else is answered as if the record did not exist."""

from __future__ import annotations

from sqlalchemy import ColumnElement, true

from services.intake.read import children, reports
from services.intake.read.ownership import child_owned_by, report_owned_by
from shared.auth import Principal, Role

# The roles that keep intake's records: they see what their agency recorded.
RECORD_KEEPERS = (Role.hotline_operator, Role.intake_officer, Role.screener, Role.supervisor)


def children_visible_to(principal: Principal) -> ColumnElement[bool]:
    if principal.has(Role.auditor):
        return true()
    visible = child_owned_by(principal.agency, children.c.child_id, children.c.report_id)
    if principal.has(*RECORD_KEEPERS):
        visible = visible | (children.c.agency == principal.agency)
    return visible


def reports_visible_to(principal: Principal) -> ColumnElement[bool]:
    if principal.has(Role.auditor):
        return true()
    visible = report_owned_by(principal.agency, reports.c.report_id)
    if principal.has(*RECORD_KEEPERS):
        visible = visible | (reports.c.agency == principal.agency)
    return visible
