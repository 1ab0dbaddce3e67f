"""Casework's read models: cases (``tables.py`` and the ``*_handlers`` modules that fill it)
and the staff directory (``directory.py``).

The handler modules register on the one projection when imported; importing them here means
whoever imports the read model (a projector, a rebuild, a test) gets the whole projection,
including its subscriptions to the intake and referral streams."""

from __future__ import annotations

from services.casework.read import (
    case_handlers,
    child_correction_handlers,
    child_names,
    followup_handlers,
    referral_handlers,
)
from services.casework.read.tables import projection

__all__ = [
    "case_handlers",
    "child_correction_handlers",
    "child_names",
    "followup_handlers",
    "projection",
    "referral_handlers",
]
