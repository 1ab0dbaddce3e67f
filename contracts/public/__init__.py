"""The public, de-identified shapes of the events integrators receive. Importing this package
registers every public event type (:data:`contracts.public.base.public_registry`); an internal
event type without one is never published."""

from contracts.public import casework, casework_followup, intake, referral
from contracts.public.base import public_registry

__all__ = ["casework", "casework_followup", "intake", "public_registry", "referral"]
