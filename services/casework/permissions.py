"""Who may do what in casework. Workers and supervisors write; auditors read everything (the
scoping in ``shared.access`` lets them across agencies); statisticians see only published,
de-identified counts, never a case."""

from __future__ import annotations

from shared.access import Permissions, rule
from shared.auth import Role

W, S, A = Role.case_worker, Role.supervisor, Role.auditor

permissions = Permissions(
    "casework",
    {
        "case.read": rule("read", "Read cases", "Consulter les dossiers", W, S, A),
        "case.assign": rule(
            "write",
            "Assign a worker and supervisor",
            "Affecter un référent et un superviseur",
            W,
            S,
        ),
        "case.stage": rule(
            "write", "Move a case to its next stage", "Faire avancer un dossier d'étape", W, S
        ),
        "case.assess": rule("write", "Record an assessment", "Enregistrer une évaluation", W, S),
        "case.best_interests": rule(
            "write",
            "Record a best-interests determination",
            "Enregistrer une détermination de l'intérêt supérieur",
            W,
            S,
        ),
        "case.plan": rule(
            "write", "Add goals and actions to the plan", "Compléter le plan d'intervention", W, S
        ),
        "case.close": rule(
            "write", "Ask to close a case", "Demander la clôture d'un dossier", W, S
        ),
        "case.approve_closure": rule(
            "write", "Approve or refuse a closure", "Approuver ou refuser une clôture", S
        ),
        "case.reopen": rule("write", "Reopen a closed case", "Rouvrir un dossier clos", W, S),
        "supervision.read": rule(
            "read", "See caseloads and overdue work", "Voir les charges et les retards", S, A
        ),
    },
)
require = permissions.require
