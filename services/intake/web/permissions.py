"""Who may do what in intake. Statisticians see no records here (reporting gives them
de-identified counts); auditors read everything and write nothing."""

from __future__ import annotations

from shared.access import Permissions, rule
from shared.auth import Role

R = Role
READERS = (R.hotline_operator, R.intake_officer, R.screener, R.supervisor, R.auditor)

permissions = Permissions(
    "intake",
    {
        "report.create": rule(
            "write",
            "Register a report",
            "Enregistrer un signalement",
            R.hotline_operator,
            R.intake_officer,
        ),
        "report.amend": rule(
            "write",
            "Correct a report",
            "Corriger un signalement",
            R.hotline_operator,
            R.intake_officer,
            R.screener,
            R.supervisor,
        ),
        "report.screen": rule(
            "write", "Screen a report", "Trier un signalement", R.screener, R.supervisor
        ),
        "report.list": rule("read", "List reports", "Lister les signalements", *READERS),
        # Case workers read the reports and child records of their agency's cases only
        # (web/scope.py): the child's identity follows the case.
        "report.read": rule(
            "read", "Read a report", "Consulter un signalement", *READERS, R.case_worker
        ),
        "child.read": rule(
            "read",
            "Search and read child records",
            "Rechercher et consulter les fiches enfant",
            *READERS,
            R.case_worker,
        ),
        "child.link": rule(
            "write",
            "Confirm or reject a suggested duplicate",
            "Confirmer ou rejeter un doublon suggéré",
            R.intake_officer,
            R.screener,
            R.supervisor,
        ),
        "child.correct": rule(
            "write",
            "Correct a child record",
            "Corriger une fiche enfant",
            R.hotline_operator,
            R.intake_officer,
            R.screener,
            R.supervisor,
        ),
        "complaint.file": rule(
            "write",
            "File a complaint",
            "Déposer une plainte",
            R.hotline_operator,
            R.intake_officer,
            R.screener,
            R.case_worker,
            R.supervisor,
            R.unit_coordinator,
            R.oversight,
            R.complaint_desk,
        ),
        # The public complaint desk (decision 0025): a complaint's status and nothing else.
        "complaint.track": rule(
            "read",
            "Read a complaint's status by its tracking code",
            "Consulter l'état d'une plainte par son code de suivi",
            R.complaint_desk,
        ),
        "complaint.list": rule(
            "read", "Read complaints", "Consulter les plaintes", R.oversight, R.auditor
        ),
        "complaint.handle": rule(
            "write",
            "Acknowledge and resolve a complaint",
            "Accuser réception d'une plainte et la clore",
            R.oversight,
        ),
    },
)
