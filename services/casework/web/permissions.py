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
        "case.open": rule(
            "write",
            "Open a case directly for a child found by the agency",
            "Ouvrir directement un dossier pour un enfant trouvé par la structure",
            W,
            S,
        ),
        "case.services": rule(
            "write",
            "Record a service delivered to the child",
            "Enregistrer un service rendu à l'enfant",
            W,
            S,
        ),
        "case.visit": rule(
            "write", "Record a follow-up visit", "Enregistrer une visite de suivi", W, S
        ),
        "case.note": rule("write", "Add a note to a case", "Ajouter une note au dossier", W, S),
        # Intake owns the child record; the worker who visits the child learns what is wrong.
        "child.correct": rule(
            "write",
            "Correct the child's details from the case (intake applies it)",
            "Corriger les informations de l'enfant depuis le dossier (l'accueil l'applique)",
            W,
            S,
        ),
        "case.transfer": rule(
            "write",
            "Ask another agency to take over a case, or withdraw the request",
            "Demander à une autre structure de reprendre un dossier, ou retirer la demande",
            W,
            S,
        ),
        # Taking over responsibility for a child is a supervisor's decision, as is closing.
        "transfer.answer": rule(
            "write",
            "Accept or decline a case transferred to the agency",
            "Accepter ou refuser un dossier transféré à la structure",
            S,
        ),
        # Moving a case to another site's log (decision 0030): a supervisor's decision.
        "case.site_transfer": rule(
            "write",
            "Move a case to another site",
            "Transférer un dossier vers un autre site",
            S,
        ),
        "transfer.read": rule(
            "read",
            "See transfers awaiting the agency's answer",
            "Voir les transferts qui attendent la réponse de la structure",
            S,
            A,
        ),
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
