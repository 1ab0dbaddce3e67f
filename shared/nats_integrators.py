"""The integrators' part of the NATS accounts: one account per integrator, which can do three
things and nothing else, all through imports from the RELAIS account and only on its own
consumer of the PUBLIC stream: read the consumer's state, pull messages, acknowledge them.

It cannot create a consumer: a consumer created on PUBLIC lives in the RELAIS account, and a
push consumer's delivery subject could then name a subject another stream captures (checked on
nats-server 2.14: a push consumer on PUBLIC delivering to ``intake.hq...`` wrote into INTAKE
once anything listened on it). Relais creates each integrator's durable pull consumer instead
(decision 0021). Its own account has no JetStream and sees nobody else's inboxes."""

from __future__ import annotations

import json
from collections.abc import Sequence

from shared.integrators import API_PREFIX, PUBLIC_STREAM, Integrator


def imported_subjects(integrator: Integrator) -> list[tuple[str, str, bool]]:
    """(subject in RELAIS, subject in the integrator's account, several responses)."""
    s, c = PUBLIC_STREAM, integrator.consumer
    return [
        (f"$JS.API.CONSUMER.INFO.{s}.{c}", f"{API_PREFIX}.CONSUMER.INFO.{s}.{c}", False),
        (f"$JS.API.CONSUMER.MSG.NEXT.{s}.{c}", f"{API_PREFIX}.CONSUMER.MSG.NEXT.{s}.{c}", True),
        (f"$JS.ACK.{s}.{c}.>", f"$JS.ACK.{s}.{c}.>", False),
    ]


def exports(integrators: Sequence[Integrator]) -> list[str]:
    """Entries of the RELAIS account's ``exports``: each only to its integrator's account."""
    lines = []
    for integrator in integrators:
        for subject, _, stream in imported_subjects(integrator):
            response = ", response_type: stream" if stream else ""
            lines.append(
                f"{{ service: {json.dumps(subject)}{response}, "
                f"accounts: [{json.dumps(integrator.account)}] }}"
            )
    return lines


def accounts(integrators: Sequence[Integrator]) -> str:
    """One account block per integrator (to put inside ``accounts { }``)."""
    blocks = []
    for integrator in integrators:
        imported = imported_subjects(integrator)
        imports = ",\n      ".join(
            f'{{ service: {{ account: "RELAIS", subject: {json.dumps(subject)} }}, '
            f"to: {json.dumps(local)} }}"
            for subject, local, _ in imported
        )
        allow = ", ".join(json.dumps(local) for _, local, _ in imported)
        blocks.append(
            f"""  {json.dumps(integrator.account)}: {{
    users: [
      {{
        user: {json.dumps(integrator.name)}
        password: {json.dumps(integrator.password_hash)}
        permissions: {{
          publish: {{ allow: [{allow}] }}
          subscribe: {{ allow: ["_INBOX.>"] }}
        }}
      }}
    ]
    imports: [
      {imports}
    ]
  }}"""
        )
    return "\n".join(blocks)
