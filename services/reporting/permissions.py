"""Who may do what in the reporting service. Auditors read the whole record, and only read:
``Permissions`` refuses any write rule naming them."""

from __future__ import annotations

from shared.access import Permissions, rule
from shared.auth import Role

permissions = Permissions(
    "reporting",
    {
        "audit.case.read": rule(
            "read",
            "Replay the history of a case and its children, as of any moment",
            "Rejouer l'historique d'un dossier et de ses enfants, à tout moment",
            Role.auditor,
        ),
        "audit.access.read": rule(
            "read",
            "See who read which record",
            "Voir qui a consulté quel dossier",
            Role.auditor,
        ),
    },
)
