"""Who may do what in the referral service. Row-level checks (the coordinator's own unit, the
referrer's own agency) are made in the routes, against the record."""

from __future__ import annotations

from shared.access import Permissions, rule
from shared.auth import Role

R = Role
DIRECTORY_READERS = (
    R.hotline_operator,
    R.intake_officer,
    R.screener,
    R.case_worker,
    R.supervisor,
    R.unit_coordinator,
    R.agency_admin,
    R.auditor,
    R.oversight,
)

permissions = Permissions(
    "referral",
    {
        "agency.register": rule(
            "write", "Add an agency to the directory", "Ajouter une structure", R.agency_admin
        ),
        "unit.describe": rule(
            "write",
            "Create or update a unit's directory entry (coordinators: their own unit)",
            "Créer ou modifier la fiche d'une unité (coordonnateurs : leur unité)",
            R.agency_admin,
            R.unit_coordinator,
        ),
        "capacity.set": rule(
            "write",
            "Set a unit's capacity (coordinators: their own unit)",
            "Fixer la capacité d'une unité (coordonnateurs : leur unité)",
            R.agency_admin,
            R.unit_coordinator,
        ),
        "directory.read": rule(
            "read",
            "Read and search the service directory",
            "Consulter et chercher dans l'annuaire des services",
            *DIRECTORY_READERS,
        ),
        "availability.read": rule(
            "read",
            "Read the services a hub or unit offers now against those expected of it",
            "Consulter les services qu'un pôle ou une unité offre en ce moment par rapport "
            "à ceux attendus",
            *DIRECTORY_READERS,
            R.statistician,
        ),
        "staff.manage": rule(
            "write",
            "Register staff, assessments and training sessions",
            "Enregistrer le personnel, les évaluations et les formations",
            R.agency_admin,
        ),
        "staff.read": rule(
            "read",
            "Read staff, assessments and training sessions",
            "Consulter le personnel, les évaluations et les formations",
            R.agency_admin,
            R.unit_coordinator,
            R.supervisor,
            R.auditor,
        ),
        "referral.make": rule(
            "write",
            "Refer a case to a unit",
            "Orienter un dossier vers une unité",
            R.case_worker,
            R.supervisor,
        ),
        "referral.withdraw": rule(
            "write",
            "Withdraw a referral made by one's agency",
            "Retirer une orientation faite par sa structure",
            R.case_worker,
            R.supervisor,
        ),
        "referral.answer": rule(
            "write",
            "Accept, decline or complete a referral to one's unit",
            "Accepter, refuser ou clore une orientation vers son unité",
            R.unit_coordinator,
        ),
        "referral.read": rule(
            "read",
            "Read referrals (the receiving unit sees only the shared fields)",
            "Consulter les orientations (l'unité destinataire ne voit que les champs partagés)",
            R.case_worker,
            R.supervisor,
            R.unit_coordinator,
            R.auditor,
        ),
    },
)
