"""Projections: how events become rows in a service's own database, exactly once in effect.

A :class:`Projection` declares its tables and a handler per event type. A
:class:`StreamProjector` feeds it one stream: it owns a durable JetStream pull consumer,
fetches in batches, applies each batch in stream order inside one database transaction that
also advances the checkpoint row, commits, then acks. Events at or below the checkpoint are
skipped, so redelivery and crashes change nothing.

Only one instance applies a given (projection, stream) at a time: the projector takes a
PostgreSQL advisory lock on the very connection its transactions run on, so losing the lock
(connection gone) also aborts the batch in flight. Other instances wait as hot standbys.

The declaration (:class:`Projection`, handlers, lock keys) is :mod:`shared.projection_spec`;
the runner (:class:`StreamProjector`) is :mod:`shared.projector`. This module names both,
as every caller imports them from here.
"""

from __future__ import annotations

from shared.projection_spec import (
    BatchHandler,
    Handler,
    Projection,
    lock_key,
    subject_event,
)
from shared.projector import (
    ProjectionBusy,
    StreamBehindCheckpoint,
    StreamProjector,
)
from shared.pull import Stored

__all__ = [
    "BatchHandler",
    "Handler",
    "Projection",
    "ProjectionBusy",
    "Stored",
    "StreamBehindCheckpoint",
    "StreamProjector",
    "lock_key",
    "subject_event",
]
