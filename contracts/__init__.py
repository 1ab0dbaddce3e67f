"""The events every service emits, by context: the only thing services share about each
other. A service imports another context's events from here, never from that service.
``contracts.public`` holds the public, de-identified shapes integrators receive.

Importing any module of this package registers every event type (this file imports them
all), so a process that decodes the log knows every type whichever contract it named first,
with what each does to the auditor's state of its aggregate (``audit_states.py``).
The backbone's own AUDIT events (signing keys, access records) stay in ``shared``, which
writes them and must not depend on this package."""

from __future__ import annotations

from contracts import (
    audit_states,
    casework,
    intake,
    portal,
    public,  # the public shapes of the contexts' events (importing them itself)
    referral,
    reporting,
)

CONTEXTS = {
    "intake": intake,
    "referral": referral,
    "casework": casework,
    "audit": reporting,
}
# The portal's account events are on AUDIT too (aggregate ``account``).


def load_all() -> None:
    """Every event type is registered once this package is imported; calling this says so
    where nothing else from the package is used."""


__all__ = [
    "CONTEXTS",
    "audit_states",
    "casework",
    "intake",
    "load_all",
    "portal",
    "public",
    "referral",
    "reporting",
]
