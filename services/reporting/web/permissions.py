"""Who may do what in the reporting service. Auditors read the whole record, and only read:
``Permissions`` refuses any write rule naming them.

Statistics are aggregates: statisticians, oversight bodies and the managers of agencies read
them, always with small cells suppressed; auditors read them exact. Statisticians cannot be
given a write, so agency administrators define the periodic reports statisticians read."""

from __future__ import annotations

from shared.access import Permissions, rule
from shared.auth import Role

STATISTICS_READERS = (
    Role.statistician,
    Role.supervisor,
    Role.unit_coordinator,
    Role.agency_admin,
    Role.oversight,
    Role.auditor,
)

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
        # Checking the log writes nothing: a read, which auditors may therefore run.
        "audit.verify": rule(
            "read",
            "Run the log's verification (chains, signatures, gaps) and read its result",
            "Lancer la vérification du journal (chaînes, signatures, trous) et en lire le résultat",
            Role.auditor,
        ),
        "statistics.read": rule(
            "read",
            "Read indicators and statistics (small cells suppressed for every role but auditors)",
            "Consulter les indicateurs et statistiques (petits effectifs masqués pour tous les "
            "rôles sauf les auditeurs)",
            *STATISTICS_READERS,
        ),
        "statistics.reports.read": rule(
            "read",
            "Read periodic statistical reports and their publications",
            "Consulter les rapports statistiques périodiques et leurs publications",
            *STATISTICS_READERS,
        ),
        "statistics.reports.define": rule(
            "write",
            "Define a periodic statistical report, or retire one",
            "Définir un rapport statistique périodique, ou le retirer",
            Role.agency_admin,
        ),
    },
)
